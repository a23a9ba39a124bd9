"""Fold files from the original YouTube-Objects releases, made the way TCAM made the published ones:
:func:`prepare_ytov1` (v1.0, ETH Zurich) and :func:`prepare_ytov22` (v2.2, CALVIN)."""

from wsvol.data.releases.ytov1 import prepare_ytov1
from wsvol.data.releases.ytov22 import prepare_ytov22

__all__ = ["prepare_ytov1", "prepare_ytov22"]
