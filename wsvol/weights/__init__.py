"""Weights: the catalogue of named files, the resolver that finds them, and safe loading.

The bottom of the house: models, pseudo-label sources and the engine read weights through here,
and nothing here reads them back.
"""

from wsvol.weights.catalogue import (
    TIMM_WEIGHTS,
    WEIGHTS,
    KnownWeights,
    WeightsError,
    WeightsFile,
    known_weights,
)
from wsvol.weights.loading import file_digest, load_checkpoint_file, load_state_dict, load_weights
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

__all__ = ["ENV", "TIMM_WEIGHTS", "WEIGHTS", "WEIGHT_KEYS", "KnownWeights", "Resolution", "WeightsError",
           "WeightsFile", "check_weights", "file_digest", "find_weights", "known_weights", "load_checkpoint_file",
           "load_state_dict", "load_weights", "resolve_named", "resolve_weights", "weights_dir"]
