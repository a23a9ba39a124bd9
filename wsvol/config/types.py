"""The type vocabulary of component constructors, which the config checker and the sections read."""

from __future__ import annotations

import dataclasses
from typing import Annotated


@dataclasses.dataclass(frozen=True)
class Kind:
    """Annotation marker: this argument is the config of a component of registry ``name``."""

    name: str


def component(kind: str):
    """Type of a constructor argument holding a component config: ``backbone: component("backbone")``."""
    return Annotated[dict, Kind(kind)]
