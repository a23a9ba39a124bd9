"""Check the frames of a split on disk: present, decodable, of the listed size; shot folders
present and not empty. Missing frames and folders are summarised (counts and the first one), so a
split without its frames reads as one line, not one per frame."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from wsvol.data.fold_files import DataError
from wsvol.data.folds import Frame, Split
from wsvol.data.shots import list_shots

MISSING_FOLDER = "does not exist"


@dataclass
class FileReport:
    """What :func:`check_files` found: missing, undecodable and wrongly sized frames, and shot
    folders that are missing or hold no frames."""

    checked: int = 0
    missing: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    wrong_size: list[tuple[str, tuple[int, int], tuple[int, int]]] = field(default_factory=list)
    shots: int = 0  #: shot folders listed by the split
    bad_shots: list[tuple[str, str, str]] = field(default_factory=list)  #: (shot, why, fold line)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unreadable or self.wrong_size or self.bad_shots)

    @property
    def missing_shots(self) -> list[tuple[str, str]]:
        """(shot, fold line) of the shot folders that do not exist."""
        return [(s, where) for s, why, where in self.bad_shots if why == MISSING_FOLDER]

    def problems(self, data_root: str | Path = "") -> list[str]:
        """Missing frames and shot folders summarised in one line each; one line per other problem."""
        root = Path(data_root)
        absent = "" if root.is_dir() else f"; {root} itself does not exist"
        out = []
        if self.missing:
            out.append(f"{len(self.missing)} of {self.checked} frames missing under {root} "
                       f"(first: {root / self.missing[0]}{absent})")
        if gone := self.missing_shots:
            out.append(f"{len(gone)} of {self.shots} shot folders missing under {root} "
                       f"(first: {root / gone[0][0]}, listed at {gone[0][1]}{absent})")
        out += [f"{where}: shot folder {root / s} {why}" for s, why, where in self.bad_shots
                if why != MISSING_FOLDER]
        out += [f"{root / f}: cannot be decoded ({why})" for f, why in self.unreadable]
        out += [f"{root / f}: is {a[0]}x{a[1]} but image_sizes.txt says {d[0]}x{d[1]}"
                for f, d, a in self.wrong_size]
        return out

    def raise_if_problems(self, data_root: str | Path = "") -> None:
        """Raise a :class:`DataError` with counts and the problems, if there are any."""
        if not self.ok:
            shots = f", {len(self.bad_shots)} shot folders missing or empty" if self.bad_shots else ""
            raise DataError(
                f"{self.checked} frames checked under {data_root}: {len(self.missing)} missing, "
                f"{len(self.unreadable)} unreadable, {len(self.wrong_size)} of the wrong size{shots}:",
                self.problems(data_root),
            )


def _inspect(path: Path, decode: bool) -> tuple[str, object]:
    """('missing'|'unreadable'|'ok', reason or (width, height)) for one image file."""
    from PIL import Image

    if not path.is_file():
        return "missing", None
    try:
        with Image.open(path) as im:
            if decode:
                im.load()  # full decode: truncated or corrupt data raises here
            return "ok", im.size
    except Exception as e:  # PIL raises many types for bad data
        return "unreadable", f"{type(e).__name__}: {e}"


def check_files(
    split: Split,
    data_root: str | Path,
    *,
    decode: bool = True,
    workers: int = 8,
    progress: bool = True,
) -> FileReport:
    """Look for every frame of ``split`` under ``data_root``: present, decodable, of the listed
    size (frames found in shot folders: decodable). Shot folders are listed (once per process).

    ``decode=False`` only reads image headers (fast). Shows a rich progress bar.
    """
    from wsvol.utils.terminal import track

    root = Path(data_root)
    report = FileReport()
    if split.lists_shots and split.data_root != root:
        lines = split.shot_entries
        names, failures = list_shots(root, lines)
        report.shots = len(lines)
        report.bad_shots = [(s, why, f"{split.ids_file}:{lines[s]}") for s, why in failures.items()]
        frames: list[Frame] = []
        for e in split.entries:
            if e.is_shot:
                frames += [Frame(f"{e.entry_id}/{n}", e.label, None, None) for n in names.get(e.entry_id, ())]
            else:
                frames.append(split.listed[e.entry_id])
    else:
        frames = split.frames
        report.shots = len(split.shot_entries)
    report.checked = len(frames)
    with ThreadPoolExecutor(max(1, workers)) as pool:  # PIL decodes without holding the GIL
        results = pool.map(lambda f: _inspect(root / f.frame_id, decode), frames)
        desc = f"checking {split.name} frames"
        for frame, (status, info) in track(zip(frames, results), desc, len(frames), disable=not progress):
            if status == "missing":
                report.missing.append(frame.frame_id)
            elif status == "unreadable":
                report.unreadable.append((frame.frame_id, info))
            elif frame.size is not None and tuple(info) != frame.size:
                report.wrong_size.append((frame.frame_id, frame.size, tuple(info)))
    return report
