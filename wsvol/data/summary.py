"""A rich table summarising a split: frames, videos, shots and boxes per class."""

from __future__ import annotations

from rich.table import Table

from wsvol.data.folds import Split

COLUMNS = ("frames", "videos", "shots", "boxes", "boxed frames")


def split_counts(split: Split) -> dict[str, dict[str, int | None]]:
    """Class name → counts of frames, videos, shots, boxes and frames with boxes.

    A split that lists shot folders not yet listed on disk (no data root) counts its shots and
    videos from ``image_ids.txt``; its frames are unknown (None) for the classes that have shots.
    """
    counts: dict[str, dict[str, int | None]] = {
        name: dict.fromkeys(COLUMNS, 0) for name in split.class_names
    }
    known = not split.lists_shots or split.data_root is not None
    units = ([(f.label, f.video_id, f.shot_id, f) for f in split.frames] if known else
             [(e.label, e.video_id, e.entry_id if e.is_shot else split.listed[e.entry_id].shot_id,
               None if e.is_shot else split.listed[e.entry_id]) for e in split.entries])
    videos, shots = set(), set()
    for label, video, shot, frame in units:
        c = counts[split.class_names[label]]
        if frame is None:
            c["frames"] = None
        else:
            if c["frames"] is not None:
                c["frames"] += 1
            c["boxes"] += len(frame.boxes)
            c["boxed frames"] += bool(len(frame.boxes))
        if video not in videos:
            videos.add(video)
            c["videos"] += 1
        if shot not in shots:
            shots.add(shot)
            c["shots"] += 1
    return counts


def split_table(split: Split) -> Table:
    """Per-class counts of ``split`` with a total row (classes without frames included; ``?``
    where frames are in shot folders not listed)."""
    counts = split_counts(split)
    table = Table(title=f"split {split.name!r} ({split.directory})")
    table.add_column("id", justify="right")
    table.add_column("class")
    for col in COLUMNS:
        table.add_column(col, justify="right")

    def cell(v: int | None) -> str:
        return "?" if v is None else str(v)

    for name, c in counts.items():
        table.add_row(str(split.classes[name]), name, *(cell(c[col]) for col in COLUMNS))
    table.add_section()
    totals = [None if any(c[col] is None for c in counts.values()) else sum(c[col] for c in counts.values())
              for col in COLUMNS]
    table.add_row("", "total", *(cell(t) for t in totals), style="bold")
    return table
