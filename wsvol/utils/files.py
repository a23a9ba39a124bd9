"""Atomic file writes, the clean-up of dead writers' temporary files, and folder locks.

A killed process never leaves half a file behind: files are written to a temporary name and
renamed. Temporary names say who writes them (``.<name>.<host>-<pid>.<random>.tmp``), so a
later run removes exactly the leftovers of writers that are gone (:func:`remove_stale_partials`)
and never the files another live process is writing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

_TEMP = re.compile(r"\.(?P<name>.+)\.(?P<host>[0-9a-f]{8})-(?P<pid>\d+)\.[0-9a-z_]+\.tmp")


def writer_tag() -> str:
    """``<host>-<pid>`` of this process (host: 8 hex digits of a hash of its name)."""
    host = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]
    return f"{host}-{os.getpid()}"


def temp_path(path: str | Path) -> Path:
    """A fresh temporary name beside ``path`` that names this process as its writer."""
    path = Path(path)
    return path.parent / f".{path.name}.{writer_tag()}.{secrets.token_hex(4)}.tmp"


def reserve_temp(path: str | Path) -> Path:
    """A new empty temporary file beside ``path`` (:func:`temp_path`), with the umask's mode, for a
    writer that takes a path (an exporter, an encoder); :func:`commit_temp` finishes the write."""
    tmp = temp_path(path)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    return tmp


def commit_temp(tmp: str | Path, path: str | Path) -> None:
    """fsync ``tmp`` and rename it to ``path``: the end of an atomic write by path."""
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success fsync and rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path, "w") as f:
        f.write(text)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    try:  # a zombie (exited, not yet reaped by its parent) writes nothing more
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def remove_stale_partials(folder: str | Path, recursive: bool = True) -> list[Path]:
    """Delete the temporary files (and folders) in ``folder`` whose writer on this host is dead;
    return them. Other hosts' temporary files are left alone (their processes cannot be asked)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    host = writer_tag().split("-")[0]
    removed = []
    for p in folder.rglob(".*.tmp") if recursive else folder.glob(".*.tmp"):
        m = _TEMP.fullmatch(p.name)
        if m and m["host"] == host and not _alive(int(m["pid"])):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def first_missing(folder: str | Path) -> Path | None:
    """The outermost of ``folder`` and its parents that does not exist yet; None if ``folder`` exists."""
    folder, missing = Path(folder), None
    for path in (folder, *folder.parents):
        if path.exists():
            break
        missing = path
    return missing


def remove_empty_folders(folders: Sequence[str | Path], created: Path | None) -> None:
    """After a failed write: remove ``folders`` (innermost first) and then the parents of the last
    one up to ``created`` (:func:`first_missing` before the write), while they are empty. Nothing
    is removed when ``created`` is None (every folder existed), nor a folder holding a file."""
    if created is None:
        return
    last = Path(folders[-1])
    for folder in (*map(Path, folders), *last.parents):
        try:
            folder.rmdir()
        except FileNotFoundError:
            pass
        except OSError:  # not empty: something was written there
            return
        if folder == created:
            return


class FolderBusy(RuntimeError):
    """Another process holds the lock of a folder (work dir, pseudo-label cache)."""


def lock_folder(folder: str | Path, what: str, wait: bool = False, command: str = "") -> None:
    """Take ``<folder>/.wsvol.lock`` for the rest of this process (``filelock``, re-entrant within it).

    Held by another process: raise :class:`FolderBusy` naming ``what``, the folder and its holder
    (pid, host, command, since when), or with ``wait`` print that and wait for it.
    """
    from filelock import FileLock, Timeout

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / ".wsvol.lock"), is_singleton=True)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        message = f"{what} {folder} is in use by {_holder(folder)}"
        if not wait:
            raise FolderBusy(f"{message}: wait for it to finish, or choose another folder") from None
        print(f"{message}; waiting for it to finish", flush=True)
        lock.acquire()
    _LOCKS.append(lock)
    info = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
            "since": time.strftime("%Y-%m-%d %H:%M:%S")}
    atomic_write_text(folder / ".wsvol.lock.json", json.dumps(info))


_LOCKS: list = []  # held until the process exits


def _holder(folder: Path) -> str:
    try:
        info = json.loads((folder / ".wsvol.lock.json").read_text())
        return (f"another wsvol process (pid {info['pid']} on {info['host']}, "
                f"`{info['command'] or 'wsvol'}`, since {info['since']})")
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"
