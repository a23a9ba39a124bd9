"""A rich table summarising a split: frames, videos, shots and boxes per class."""

from __future__ import annotations

from rich.table import Table

from wsvol.data.folds import Split


def split_counts(split: Split) -> dict[str, dict[str, int]]:
    """Class name → counts of frames, videos, shots, boxes and frames with boxes."""
    counts = {
        name: {"frames": 0, "videos": 0, "shots": 0, "boxes": 0, "boxed frames": 0}
        for name in split.class_names
    }
    videos, shots = set(), set()
    for f in split.frames:
        c = counts[split.class_names[f.label]]
        c["frames"] += 1
        c["boxes"] += len(f.boxes)
        c["boxed frames"] += bool(len(f.boxes))
        if f.video_id not in videos:
            videos.add(f.video_id)
            c["videos"] += 1
        if f.shot_id not in shots:
            shots.add(f.shot_id)
            c["shots"] += 1
    return counts


def split_table(split: Split) -> Table:
    """Per-class counts of ``split`` with a total row (classes without frames included)."""
    counts = split_counts(split)
    columns = ["frames", "videos", "shots", "boxes", "boxed frames"]
    table = Table(title=f"split {split.name!r} ({split.directory})")
    table.add_column("id", justify="right")
    table.add_column("class")
    for col in columns:
        table.add_column(col, justify="right")
    for name, c in counts.items():
        table.add_row(str(split.classes[name]), name, *(str(c[col]) for col in columns))
    table.add_section()
    table.add_row(
        "", "total", *(str(sum(c[col] for c in counts.values())) for col in columns), style="bold"
    )
    return table
