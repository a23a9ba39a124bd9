"""Atomic writes name their writer; a rerun removes only dead writers' leftovers; folder locks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from wsvol.utils.files import (
    FolderBusy,
    atomic_write_text,
    lock_folder,
    remove_stale_partials,
    writer_tag,
)


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporary_names_carry_the_writer_and_only_dead_writers_leftovers_go(tmp_path):
    host = writer_tag().split("-")[0]
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = tmp_path / "sub" / f".epoch_3.pth.{host}-{dead_pid()}.0a1b2c3d.tmp"
        live = tmp_path / f".shard-00001.npy.{host}-{sleeper.pid}.0a1b2c3d.tmp"
        mine = tmp_path / f".report.json.{writer_tag()}.0a1b2c3d.tmp"
        elsewhere = tmp_path / f".report.json.{'0' * 8 if host != '0' * 8 else '1' * 8}-{dead_pid()}.0a1b2c3d.tmp"
        unknown = tmp_path / ".old-style.abc.tmp"  # no writer in the name: cannot tell, kept
        dead_dir = tmp_path / f".synthetic.{host}-{dead_pid()}.0a1b2c3d.tmp"
        for p in (dead, live, mine, elsewhere, unknown):
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(b"half")
        (dead_dir / "frames").mkdir(parents=True)
        assert sorted(remove_stale_partials(tmp_path)) == sorted([dead, dead_dir])
        assert all(p.exists() for p in (live, mine, elsewhere, unknown)) and not dead.exists()
        assert remove_stale_partials(tmp_path, recursive=False) == []
    finally:
        sleeper.kill()
        sleeper.wait()


def test_an_atomic_write_leaves_no_temporary_file_and_a_failed_one_leaves_nothing(tmp_path):
    atomic_write_text(tmp_path / "a.txt", "x")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    from wsvol.utils.files import atomic_open

    with pytest.raises(RuntimeError), atomic_open(tmp_path / "b.bin") as f:
        f.write(b"half")
        raise RuntimeError
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


LOCKER = """
import sys, time
from wsvol.utils.files import lock_folder
lock_folder(sys.argv[1], "work dir", command="wsvol train cfg.yaml")
print("locked", flush=True)
time.sleep(60)
"""


def test_a_folder_lock_stops_a_second_process_naming_the_first_and_is_reentrant(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    holder = subprocess.Popen([sys.executable, "-c", LOCKER, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(FolderBusy, match=rf"work dir {tmp_path} is in use by another wsvol process "
                                            rf"\(pid {holder.pid} on .*`wsvol train cfg.yaml`, since .*\): wait"):
            lock_folder(tmp_path, "work dir")
    finally:
        holder.kill()
        holder.wait()
    lock_folder(tmp_path, "work dir")  # the holder died: its lock went with it
    lock_folder(tmp_path, "work dir")  # and this process may take it again


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
    from wsvol.utils.files import atomic_open

    with pytest.raises(RuntimeError), atomic_open(tmp_path / "x.bin") as f:
        f.write(b"half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
