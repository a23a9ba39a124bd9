"""Argument types the commands share (argparse puts the flag in front of their messages)."""

from __future__ import annotations

import argparse


def at_least_one(text: str) -> int:
    """A whole number >= 1 (a count, a stride, a batch size)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value
