"""wsvol's own top-level config sections (beside mmengine's runner keys).

Each section is a dataclass: its fields are the accepted keys, their types are checked, and
the config reference in ``docs/`` is generated from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class SyntheticSection:
    """Generate the embedded synthetic dataset into ``out`` when it is not there yet."""

    out: str
    size: Literal["tiny", "small", "medium"] = "small"
    seed: int = 0


@dataclass
class ReportSection:
    """What ``wsvol test`` / ``wsvol run`` write besides the metrics."""

    overlays: int = 16
    worst_frames: int = 12
    bootstrap: int = 1000
    seed: int = 0


SECTIONS: dict[str, type] = {"synthetic": SyntheticSection, "report": ReportSection}
