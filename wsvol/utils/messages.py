"""How wsvol words an unknown name: the problem, a "did you mean" when a name is close, the choices."""

from __future__ import annotations

from collections.abc import Sequence


def capitalized(text: str) -> str:
    """``text`` with its first letter upper-case (the start of a sentence)."""
    return text[:1].upper() + text[1:]


def suggestion(problem: str, close: Sequence[str], choices: str) -> str:
    """``problem; did you mean 'x'? Choices…`` with a close match, else ``problem; choices…``."""
    if close:
        return f"{problem}; did you mean {close[0]!r}? {capitalized(choices)}"
    return f"{problem}; {choices}"
