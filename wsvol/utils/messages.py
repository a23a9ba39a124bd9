"""How wsvol words an unknown name (the problem, a "did you mean" when a name is close, the choices) and
what differs between two settings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def capitalized(text: str) -> str:
    """``text`` with its first letter upper-case (the start of a sentence)."""
    return text[:1].upper() + text[1:]


def suggestion(problem: str, close: Sequence[str], choices: str) -> str:
    """``problem; did you mean 'x'? Choices…`` with a close match, else ``problem; choices…``."""
    if close:
        return f"{problem}; did you mean {close[0]!r}? {capitalized(choices)}"
    return f"{problem}; {choices}"


def differences(old: Any, new: Any, key: str = "") -> list[str]:
    """``key: old → new`` for every leaf that differs between two nested dicts (dotted keys; a key
    one side lacks shows as ``'<absent>'``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for k in sorted(set(old) | set(new), key=str)
                for d in differences(old.get(k, "<absent>"), new.get(k, "<absent>"), f"{key}.{k}" if key else str(k))]
    return [] if old == new else [f"{key}: {old!r} → {new!r}"]
