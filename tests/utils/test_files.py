"""Atomic writes: whole files or none, with the permissions a plain open() would give."""

from __future__ import annotations

import os

import pytest

from wsvol.utils.files import atomic_open, atomic_write_text


def test_a_written_file_has_the_mode_open_would_give(tmp_path):
    umask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "report.json", "{}")
        with open(tmp_path / "plain.json", "w") as f:
            f.write("{}")
    finally:
        os.umask(umask)
    assert (tmp_path / "report.json").stat().st_mode & 0o777 == (tmp_path / "plain.json").stat().st_mode & 0o777


def test_a_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), atomic_open(tmp_path / "x.bin") as f:
        f.write(b"half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
