"""wsvol-example: a template plugin — DINO attention pseudo-labels and an entropy loss.

wsvol imports this module when it starts (even for ``wsvol --help``), so it imports nothing
heavy: the components are imported inside the hook, which runs on the first registry lookup.
"""

from wsvol.hookspecs import hookimpl


@hookimpl
def wsvol_register(registries) -> None:
    """Register this plugin's components under the names configs use as ``type:``."""
    from wsvol_example.dino_attention import DinoAttention
    from wsvol_example.entropy_min import EntropyMinLoss

    registries.pseudo_label_sources.register_module(name="dino_attention")(DinoAttention)
    registries.losses.register_module(name="entropy_min")(EntropyMinLoss)
