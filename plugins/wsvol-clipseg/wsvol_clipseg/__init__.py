"""wsvol plugin: the ``clipseg`` pseudo-label source (CLIPSeg rd64-refined, local weights).

Importing this package is cheap (the plugin manager imports it whenever ``wsvol`` starts);
torch and transformers load only when the source is registered or built.
"""

from __future__ import annotations

from wsvol.hookspecs import hookimpl


@hookimpl
def wsvol_register(registries) -> None:
    """Register ``ClipSeg`` as the pseudo-label source ``clipseg``."""
    from wsvol_clipseg.source import ClipSeg

    registries.pseudo_label_sources.register_module(name="clipseg")(ClipSeg)
