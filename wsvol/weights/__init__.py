"""Weights: the catalogue of named files, the resolver that finds them, and safe loading.

The bottom of the house: models, pseudo-label sources and the engine read weights through here,
and nothing here reads them back. Importing it does not import torch: the readers of the
published formats (:mod:`wsvol.weights.formats`) and the position-embedding resize
(:mod:`wsvol.weights.pos_embed`) load on first use.
"""

from wsvol.weights.catalogue import (
    TIMM_WEIGHTS,
    WEIGHTS,
    KnownWeights,
    Use,
    WeightsError,
    WeightsFile,
    known_weights,
)
from wsvol.weights.loading import (
    default_pos_embed_resize,
    file_digest,
    load_checkpoint_file,
    load_state_dict,
    load_timm_weights,
    load_weights,
)
from wsvol.weights.resolver import (
    ENV,
    WEIGHT_KEYS,
    Resolution,
    check_weights,
    find_weights,
    resolve_named,
    resolve_weights,
    weights_dir,
)

_LAZY = {
    "FORMATS": "formats", "CLIP_FORMATS": "formats", "Weights": "formats", "WeightsFormat": "formats",
    "read_weights": "formats", "RESIZE_PRESETS": "pos_embed", "resize_abs_pos_embed": "pos_embed",
    "resize_options": "pos_embed",
}  # fmt: skip


def __getattr__(name: str):
    """The torch-importing parts, loaded on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"wsvol.weights.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'wsvol.weights' has no attribute {name!r}")


__all__ = ["CLIP_FORMATS", "ENV", "FORMATS", "RESIZE_PRESETS", "TIMM_WEIGHTS", "WEIGHTS", "WEIGHT_KEYS",
           "KnownWeights", "Resolution", "Use", "Weights", "WeightsError", "WeightsFile", "WeightsFormat",
           "check_weights", "default_pos_embed_resize", "file_digest", "find_weights", "known_weights",
           "load_checkpoint_file", "load_state_dict", "load_timm_weights", "load_weights", "read_weights",
           "resize_abs_pos_embed", "resize_options", "resolve_named", "resolve_weights", "weights_dir"]
