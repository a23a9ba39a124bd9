"""wsvol's own top-level config sections (beside mmengine's runner keys).

Each section is a dataclass: its fields are the accepted keys, their types are checked, and
the config reference in ``docs/`` is generated from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from wsvol.config.types import Side, bounded, component


@dataclass
class SyntheticSection:
    """Generate the embedded synthetic dataset into ``out`` when it is not there yet."""

    out: str
    size: Literal["tiny", "small", "medium"] = "small"
    seed: int = 0


@dataclass
class ReportSection:
    """The report ``wsvol test`` / ``wsvol run`` write: overlays, bootstrap, object-size groups."""

    overlays: bounded(int, 0) = 16  # overlay PNGs per method (spread over classes)
    n_worst: bounded(int, 0) = 8  # worst frames shown as thumbnails
    n_boot: bounded(int, 1) = 1000  # bootstrap resamples over videos
    confidence: bounded(float, 0, 1) = 0.95
    seed: int = 0
    size_bins: tuple[bounded(float, 0, 1), bounded(float, 0, 1)] = (0.05, 0.25)  # largest true box / frame area: small | medium | large

    @staticmethod
    def problems(value: dict) -> list[tuple[str, str]]:
        """(key, problem) of what the types cannot say: the size bins increase."""
        bins = value.get("size_bins")
        if isinstance(bins, (list, tuple)) and len(bins) == 2 and all(isinstance(b, (int, float)) for b in bins) \
                and not bins[0] < bins[1]:
            return [("size_bins", f"the two bounds (small | medium | large) must increase, got {list(bins)}")]
        return []


@dataclass
class PseudoLabelsSection:
    """Pseudo-labels: the source, and the cache that ``wsvol pseudo-labels`` writes and training reads.

    - ``source``: the pseudo-label source — ``type`` (``clip_es``, ``cam``, a plugin's, see
      ``wsvol plugins list``) and its arguments. Weights arguments (``pretrained``, ``checkpoint``)
      take a file path or a weights name (``wsvol weights list``).
    - ``cache_dir``: the cache folder, one sub-folder per split (``index.json``, the frame list and
      uint8 shards); reused when the source (config and weights content) and frames match,
      refused otherwise unless ``--overwrite``.
    - ``splits``: the splits whose frames get maps: ``train`` (what training reads) and the splits
      the source is judged on (CorLoc of the pseudo-labels themselves, on splits with boxes).
    - ``size``: [H, W] the maps are stored at (224×224, as the reference stores them); null: the
      source's input size.
    - ``batch_size``: frames per source call; ``num_workers``: data-loading processes;
      ``shard_size``: frames per shard file (the unit a killed run resumes from);
      ``device``: ``cpu``, ``cuda`` or ``cuda:N`` (default: under torchrun the local rank's GPU,
      else ``cuda`` when available, else ``cpu``).
    """

    source: component("pseudo_label_source")
    cache_dir: str
    splits: list[Literal["train", "val", "test"]] = field(default_factory=lambda: ["train", "val", "test"])
    size: tuple[Side, Side] | None = field(default_factory=lambda: [224, 224])
    batch_size: bounded(int, 1) = 16
    num_workers: bounded(int, 0) = 2
    shard_size: bounded(int, 1) = 256
    device: str | None = None


@dataclass
class BaselineSection:
    """A classifier config trained and tested first, in ``<work dir>/baseline/``.

    Its best checkpoint becomes ``{baseline_checkpoint}`` in the ``pseudo_labels`` section (the
    ``cam`` source learns from it), and its test result goes into the final report next to the
    model trained from its pseudo-labels. ``config`` is relative to the config file that sets it
    (not to the top-level config), and ``wsvol config check`` checks that config too. A child
    config drops the stage with ``baseline: null``.
    """

    config: str


@dataclass
class PredictSection:
    """How ``wsvol predict`` and ``wsvol export`` prepare frames: ``pipeline`` (resize, normalize,
    pack), used instead of the test (else validation) dataloader's, e.g. by a config trained
    without either."""

    pipeline: list[dict]


SECTIONS: dict[str, type] = {
    "predict": PredictSection,
    "baseline": BaselineSection,
    "synthetic": SyntheticSection,
    "report": ReportSection,
    "pseudo_labels": PseudoLabelsSection,
}
