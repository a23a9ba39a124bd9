"""The type vocabulary of component constructors, which the config checker and the sections read."""

from __future__ import annotations

import dataclasses
from typing import Annotated


@dataclasses.dataclass(frozen=True)
class Kind:
    """Annotation marker: this argument is the config of a component of registry ``name``."""

    name: str


@dataclasses.dataclass(frozen=True)
class Range:
    """Annotation marker: the number(s) of this argument lie in ``[min, max]`` (None: unbounded)."""

    min: float | None = None
    max: float | None = None

    def holds(self, value: object) -> bool:
        """Whether ``value`` (a number; anything else passes) lies in the range."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            return True  # not a number (NaN included: refused on its own)
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def __str__(self) -> str:
        if self.max is None:
            return f">= {self.min:g}"
        return f"<= {self.max:g}" if self.min is None else f"in [{self.min:g}, {self.max:g}]"


@dataclasses.dataclass(frozen=True)
class TimmName:
    """Annotation marker: this string names a timm model (``timm.is_model``; a ``.tag`` allowed)."""

    def holds(self, value: object) -> bool:
        """Whether ``value`` (a string; anything else passes) is a timm model name."""
        if not isinstance(value, str):
            return True
        import timm

        return timm.is_model(value)

    def __str__(self) -> str:
        return "naming a timm model (timm.list_models())"


#: A timm architecture name: ``arch: TimmArch``.
TimmArch = Annotated[str, TimmName()]


def component(kind: str):
    """Type of a constructor argument holding a component config: ``backbone: component("backbone")``."""
    return Annotated[dict, Kind(kind)]


def bounded(base: type, min: float | None = None, max: float | None = None):  # noqa: A002
    """Type of a number argument with bounds: ``bounded(int, 1)`` is an integer >= 1."""
    return Annotated[base, Range(min, max)]


#: The most pixels along one side of an image a pipeline may produce (a 16K frame is 15360 wide).
MAX_SIDE = 16384
#: An image side in pixels: ``size: Side | Sequence[Side]``.
Side = bounded(int, 1, MAX_SIDE)
