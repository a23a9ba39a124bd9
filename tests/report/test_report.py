"""The report: files, HTML numbers and CSV values against a small independent computation."""

import csv
import html
import json
from html.parser import HTMLParser

import numpy as np
import pytest
from rich.console import Console

from wsvol.evaluation.classification import evaluate_classification
from wsvol.evaluation.corloc import evaluate_quantized
from wsvol.evaluation.metrics import EvaluationResult
from wsvol.report import print_report, size_names, write_report

S = 32
# frame: (video, label, pred, square of the map (x0, y0, x1, y1), true box, largest-box area share)
FRAMES = [
    ("cat/v1", 0, 0, (4, 4, 20, 20), (4, 4, 20, 20), 0.02),
    ("cat/v1", 0, 1, (4, 4, 20, 20), (0, 0, 31, 31), 0.10),
    ("cat/v2", 0, 0, (10, 10, 25, 25), (9, 9, 25, 26), 0.10),
    ("dog/v3", 1, 1, (2, 2, 12, 12), (20, 20, 30, 30), 0.40),
    ("dog/v3", 1, 1, (2, 2, 12, 12), (2, 2, 13, 13), 0.50),
    ("dog/v4", 1, 0, (0, 0, 30, 30), (0, 0, 30, 30), 0.60),
]


def result(frames, shift=0, classes=("cat", "dog")):
    maps, boxes = [], []
    for _, _, _, sq, _, _ in frames:
        q = np.zeros((S, S), np.uint8)
        x0, y0, x1, y1 = sq
        q[y0 : y1 + 1, x0 + shift : x1 + 1 + shift] = 255  # one binary map at every τ
        maps.append(q)
    boxes = [np.array([f[4]]) for f in frames]
    labels = [f[1] for f in frames]
    loc = evaluate_quantized(
        maps,
        boxes,
        labels,
        num_classes=len(classes),
        tau_step=0.01,
        frame_ids=[f"{f[0]}/{i}.jpg" for i, f in enumerate(frames)],
        video_ids=[f[0] for f in frames],
    )
    return EvaluationResult(
        loc,
        evaluate_classification(labels, [f[2] for f in frames], len(classes)),
        list(classes),
        scores=np.linspace(0.5, 0.9, len(frames)),
        areas=np.array([f[5] for f in frames]),
    )


def by_hand(frames, shift=0):
    """Correctness of each frame: the box of a filled square (x0..x1) is (x0, y0, x1 + 1, y1 + 1)."""
    out = []
    for _, _, _, (x0, y0, x1, y1), g, _ in frames:
        b = (x0 + shift, y0, min(x1 + shift + 1, S - 1), min(y1 + 1, S - 1))
        iw = max(0, min(b[2], g[2]) - max(b[0], g[0]) + 1)
        ih = max(0, min(b[3], g[3]) - max(b[1], g[1]) + 1)
        union = (
            (b[2] - b[0] + 1) * (b[3] - b[1] + 1) + (g[2] - g[0] + 1) * (g[3] - g[1] + 1) - iw * ih
        )
        out.append(iw * ih / union >= 0.5)
    return np.array(out)


class Cells(HTMLParser):
    """Text of every table cell, per table id."""

    def __init__(self):
        super().__init__()
        self.tables, self.table, self.in_cell, self.images = {}, None, False, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.table = self.tables.setdefault(attrs.get("id"), [])
        elif tag in ("td", "th"):
            self.in_cell = True
            self.table.append("")
        elif tag == "img" and attrs.get("src", "").startswith("data:image/png;base64,"):
            self.images += 1

    def handle_endtag(self, tag):
        self.in_cell = self.in_cell and tag not in ("td", "th")

    def handle_data(self, data):
        if self.in_cell:
            self.table[-1] += data


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    results = {"base": result(FRAMES), "shifted": result(FRAMES, shift=1)}
    report = write_report(out, results, n_boot=200, n_worst=3)
    return out, report


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_files_and_html(written):
    out, _ = written
    names = {
        "summary",
        "per_class",
        "per_video",
        "by_size",
        "bootstrap",
        "worst_frames",
        "corloc_curve",
        "baselines",
    }
    assert {p.stem for p in (out / "tables").glob("*.csv")} == names
    parser = Cells()
    parser.feed((out / "report.html").read_text())
    assert parser.images == 1 + 2 * 3  # the curve plot and three worst frames per method
    correct = by_hand(FRAMES)
    corloc = f"{correct.mean() * 100:.2f}"
    assert corloc in parser.tables["summary"]
    cat, dog = correct[:3].mean() * 100, correct[3:].mean() * 100
    assert f"{cat:.2f}" in parser.tables["per_class"] and f"{dog:.2f}" in parser.tables["per_class"]
    assert f"{(cat + dog) / 2:.2f}" in parser.tables["summary"]
    assert f"{4 / 6 * 100:.2f}" in parser.tables["summary"]  # CL: frames 1 and 5 are misclassified


def test_csv_values(written):
    out, report = written
    for method, shift in (("base", 0), ("shifted", 1)):
        correct = by_hand(FRAMES, shift)
        row = next(r for r in read_csv(out / "tables" / "summary.csv") if r["method"] == method)
        assert float(row["corloc"]) == pytest.approx(correct.mean() * 100)
        assert float(row["corloc_low"]) <= float(row["corloc"]) <= float(row["corloc_high"])
        assert row["pxap"] == ""  # no masks
        videos = {
            r["video"]: r
            for r in read_csv(out / "tables" / "per_video.csv")
            if r["method"] == method
        }
        for video in ("cat/v1", "cat/v2", "dog/v3", "dog/v4"):
            sel = [i for i, f in enumerate(FRAMES) if f[0] == video]
            assert float(videos[video]["corloc"]) == pytest.approx(correct[sel].mean() * 100)
            assert int(videos[video]["frames"]) == len(sel)
        sizes = [r for r in read_csv(out / "tables" / "by_size.csv") if r["method"] == method]
        assert [r["size"] for r in sizes] == size_names()
        groups = [[0], [1, 2], [3, 4, 5]]  # areas 0.02 | 0.10, 0.10 | 0.40, 0.50, 0.60
        for r, sel in zip(sizes, groups):
            assert int(r["frames"]) == len(sel) and float(r["corloc"]) == pytest.approx(
                correct[sel].mean() * 100
            )
    diff = next(
        r
        for r in read_csv(out / "tables" / "bootstrap.csv")
        if r["statistic"].startswith("corloc - ")
    )
    assert float(diff["estimate"]) == pytest.approx(
        (by_hand(FRAMES, 1).mean() - by_hand(FRAMES).mean()) * 100
    )
    worst = [r for r in read_csv(out / "tables" / "worst_frames.csv") if r["method"] == "base"]
    assert len(worst) == 3 and [float(r["iou"]) for r in worst] == sorted(
        float(r["iou"]) for r in worst
    )
    assert json.loads((out / "report.json").read_text())["summary"][0]["corloc"] == pytest.approx(
        report["summary"][0]["corloc"]
    )


def test_worst_frames_pair_the_predicted_class_with_its_score(written):
    out, report = written
    scores = np.linspace(0.5, 0.9, len(FRAMES))  # as result() gives them: the predicted class's
    classes = ["cat", "dog"]
    csv_rows = [r for r in read_csv(out / "tables" / "worst_frames.csv") if r["method"] == "base"]
    json_rows = [r for r in json.loads((out / "report.json").read_text())["worst_frames"] if r["method"] == "base"]
    assert [int(r["index"]) for r in csv_rows] == [r["index"] for r in json_rows]
    for row, js in zip(csv_rows, json_rows):
        _, label, pred, *_ = FRAMES[int(row["index"])]
        assert (row["true_class"], row["predicted_class"]) == (classes[label], classes[pred])
        assert (js["true_class"], js["predicted_class"]) == (classes[label], classes[pred])
        assert float(row["score"]) == pytest.approx(scores[int(row["index"])]) == js["score"]
    # frame 1: a cat taken for a dog at 0.58; its box (4, 4, 21, 21) against (0, 0, 31, 31): IoU 18² / 32²
    assert 1 in [int(r["index"]) for r in csv_rows]
    html = (out / "report.html").read_text()
    assert f"predicted dog 0.58, true cat, IoU {18 ** 2 / 32 ** 2:.2f}<br>cat/v1/1.jpg" in html
    assert "cat, score" not in html


def test_a_frame_without_prediction_shows_no_predicted_class(tmp_path):
    res = result(FRAMES[3:4])  # IoU 0: the worst frame
    res.classification = evaluate_classification([1], [-1], 2)
    res.scores = np.array([np.nan])
    write_report(tmp_path, {"m": res}, n_boot=20, n_worst=1)
    (row,) = read_csv(tmp_path / "tables" / "worst_frames.csv")
    assert (row["true_class"], row["predicted_class"], row["score"]) == ("dog", "", "")
    assert "predicted — —, true dog, IoU 0.00<br>" in (tmp_path / "report.html").read_text()


def test_no_per_class_tau_where_corloc_is_0_at_every_tau(tmp_path):
    # the cat's box matches at every τ, the dog's square never touches its box
    frames = [("cat/v1", 0, 0, (4, 4, 20, 20), (4, 4, 20, 20), 0.02),
              ("dog/v2", 1, 1, (2, 2, 12, 12), (20, 20, 30, 30), 0.40)]
    report = write_report(tmp_path, {"m": result(frames)}, n_boot=20, n_worst=0)
    cat, dog = report["per_class"]
    assert (cat["corloc"], dog["corloc"]) == (100.0, 0.0)
    assert cat["tau"] is not None and dog["tau"] is None
    cat_csv, dog_csv = read_csv(tmp_path / "tables" / "per_class.csv")
    assert cat_csv["tau"] != "" and dog_csv["tau"] == ""
    assert json.loads((tmp_path / "report.json").read_text())["per_class"][1]["tau"] is None
    parser = Cells()
    parser.feed((tmp_path / "report.html").read_text())
    cells = parser.tables["per_class"]
    width = cells.index("CL") + 1  # one row of cells per class after the heading row
    assert cells[2 * width:3 * width] == ["m", "dog", "1", "0.00", "—", "100.00"]
    console = Console(record=True, width=160)
    print_report(report, console)
    dog_line = next(line for line in console.export_text().splitlines() if " dog " in line)
    assert dog_line.split("│")[1:-1][4].strip() == "—"


def test_a_class_without_test_frames_keeps_its_row_and_is_named_in_a_note(tmp_path):
    # the dogs are class 2; class 1, bird, has no frame
    frames = [(v, 2 * label, 2 * pred, *rest) for v, label, pred, *rest in FRAMES]
    classes = ("cat", "bird", "dog")
    report = write_report(tmp_path, {"a": result(frames, classes=classes), "b": result(frames, 1, classes)},
                          n_boot=20, n_worst=0)
    rows = [r for r in report["per_class"] if r["method"] == "a"]
    assert [r["class"] for r in rows] == list(classes)
    bird = rows[1]
    assert (bird["frames"], bird["corloc"], bird["tau"], bird["cl"]) == (0, None, None, None)
    correct = by_hand(FRAMES)
    cat, dog = correct[:3].mean() * 100, correct[3:].mean() * 100
    assert report["summary"][0]["corloc_mean"] == pytest.approx((cat + dog) / 2)  # over 2 classes, no 0 for bird
    note = ("class mean over the 2 of 3 classes with test frames; no test frame of bird (shown as —, left out of "
            "the mean, not counted as 0; the papers' average is over all classes)")
    assert report["meta"]["notes"] == [note]  # one note: both methods miss the same class
    assert json.loads((tmp_path / "report.json").read_text())["meta"]["notes"] == [note]
    saved = [r for r in json.loads((tmp_path / "report.json").read_text())["per_class"] if r["method"] == "a"]
    assert saved[1] == {"method": "a", "class": "bird", "frames": 0, "corloc": None, "tau": None, "cl": None}
    csv_bird = [r for r in read_csv(tmp_path / "tables" / "per_class.csv") if r["class"] == "bird"]
    assert [(r["method"], r["frames"], r["corloc"], r["tau"], r["cl"]) for r in csv_bird] == \
           [("a", "0", "", "", ""), ("b", "0", "", "", "")]
    page = (tmp_path / "report.html").read_text()
    assert f"<p class='note'>{html.escape(note)}</p>" in page
    parser = Cells()
    parser.feed(page)
    cells = parser.tables["per_class"]
    width = cells.index("CL") + 1
    assert cells[2 * width:3 * width] == ["a", "bird", "0", "—", "—", "—"]
    console = Console(record=True, width=300)
    print_report(report, console)
    text = console.export_text()
    bird_lines = [line.split("│")[1:-1] for line in text.splitlines() if line.startswith("│") and " bird " in line]
    assert [[c.strip() for c in cells] for cells in bird_lines] == [[m, "bird", "0", "—", "—", "—"] for m in "ab"]
    assert note in " ".join(text.split())


def test_methods_missing_other_classes_get_a_note_each():
    from wsvol.report import build_report

    classes = ("cat", "dog", "bird")
    report = build_report({"all": result(FRAMES, classes=classes), "cats": result(FRAMES[:3], classes=classes),
                           "two": result(FRAMES, classes=("cat", "dog"))}, n_boot=20, n_worst=0)
    notes = [n for n in report["meta"]["notes"] if "class mean" in n]
    assert [n.split(";")[0] for n in notes] == ["all: class mean over the 2 of 3 classes with test frames",
                                                "cats: class mean over the 1 of 3 classes with test frames"]
    assert "no test frame of dog, bird (" in notes[1]
    assert [r["class"] for r in report["per_class"] if r["method"] == "cats"] == list(classes)


def test_different_frames_are_not_paired(tmp_path):
    report = write_report(
        tmp_path, {"a": result(FRAMES), "b": result(FRAMES[:4])}, n_boot=50, n_worst=1
    )
    assert not any(r["statistic"] != "corloc" for r in report["bootstrap"])
    assert any("not evaluated on the same frames" in n for n in report["meta"]["notes"])


def test_terminal_tables(written):
    _, report = written
    console = Console(record=True, width=160)
    print_report(report, console)
    text = console.export_text()
    assert (
        "shifted" in text
        and f"{by_hand(FRAMES).mean() * 100:.2f}" in text
        and "corloc - corloc[base]" in text
    )


def test_the_environment_is_recorded_in_json_and_html(tmp_path):
    import torch

    from wsvol.engine.job import environment
    from wsvol.report.tables import describe_environment

    env = environment()
    assert env["threads"] >= 1 and env["libraries"]["torch"] and env["libraries"]["opencv"]
    write_report(tmp_path, {"a": result(FRAMES)}, n_boot=20, environment=env)
    assert json.loads((tmp_path / "report.json").read_text())["meta"]["environment"] == env
    html = (tmp_path / "report.html").read_text()
    assert f"Environment: threads {env['threads']}, {env['device']}; wsvol " in html
    assert f"opencv {env['libraries']['opencv']}" in html and f"torch {env['libraries']['torch']}" in html
    # the instruction set torch's CPU kernels use decides the floats as much as the versions do
    assert env["cpu"].endswith(f", {torch.backends.cpu.get_cpu_capability()} kernels") and len(env["cpu"]) > 10
    assert f"; cpu: {env['cpu']}; " in html and f"; platform: {env['platform']}." in html
    line = describe_environment(env)
    assert line.startswith(f"threads {env['threads']}, {env['device']}; wsvol ") and f"; cpu: {env['cpu']}" in line
    assert f"Environment: {line}." in html  # the terminal and the page say the same


NAMES = ("pseudo-labels", "baseline: resnet18 (layercam)", "trcamv")


def column_text(text: str, column: int) -> str:
    """The cells of a column of every rich table in ``text``, joined without blanks (folded names
    are whole again)."""
    return "".join("".join(line.split("│")[column].split()) for line in text.splitlines() if line.count("│") > column)


@pytest.mark.parametrize("width", [60, 80, 120])
def test_terminal_tables_cut_no_number_and_no_name(width):
    from wsvol.report import build_report
    from wsvol.report.tables import COLUMNS, fmt

    report = build_report({name: result(FRAMES, shift=n % 2) for n, name in enumerate(NAMES)}, n_boot=20,
                          n_worst=0)
    for row in report["summary"]:  # as wide as real numbers get: thousands of frames, masks, 100 %
        row.update(frames=12345, videos=1234, corloc_high=100.0, cl=100.0, pxap=100.0, pxiou=99.99)
    console = Console(record=True, width=width)
    print_report(report, console)
    text = console.export_text()
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    cells = {cell.strip() for line in text.splitlines() for cell in line.split("│")}
    for key in ("summary", "per_class", "by_size", "bootstrap"):
        for row in report[key]:
            for k, _, digits in COLUMNS[key]:
                if k not in ("method", "class", "size", "statistic"):
                    assert fmt(row.get(k), digits) in cells, (width, key, k)
    methods = column_text(text, 1)
    statistics = column_text(text, 2)
    for name in NAMES:
        assert name.replace(" ", "") in methods, (width, name)
    assert "corloc-corloc[pseudo-labels]" in statistics


def test_no_summary_tau_where_corloc_is_0_at_every_tau(tmp_path):
    from wsvol.report.page import curve_label

    frames = [FRAMES[3], ("dog/v5", 1, 1, (2, 2, 12, 12), (20, 20, 30, 30), 0.40)]  # never touch their boxes
    report = write_report(tmp_path, {"m": result(frames)}, n_boot=20, n_worst=0)
    (row,) = report["summary"]
    assert row["corloc"] == 0.0 and row["best_tau"] is None
    assert json.loads((tmp_path / "report.json").read_text())["summary"][0]["best_tau"] is None
    parser = Cells()
    parser.feed((tmp_path / "report.html").read_text())
    cells = parser.tables["summary"]
    width = cells.index("PxIoU") + 1
    assert cells[width + cells.index("τ")] == "—"
    assert curve_label(row) == "m (0.0% at τ=—)"
    console = Console(record=True, width=160)
    print_report(report, console)
    line = next(line for line in console.export_text().splitlines() if line.startswith("│") and " m " in line)
    assert line.split("│")[1:-1][7].strip() == "—"


def test_the_centred_box_baseline_is_in_json_and_html_as_a_baseline(written):
    from wsvol.evaluation.baselines import centred_box_corloc

    out, report = written
    corloc, side = centred_box_corloc(result(FRAMES).localization)  # on the frames of the first method
    saved = json.loads((out / "report.json").read_text())
    assert saved["baselines"] == [{"baseline": "centred box", "frames": len(FRAMES), "corloc": corloc, "side": side}]
    assert saved["meta"]["methods"] == ["base", "shifted"]  # not a method
    parser = Cells()
    parser.feed((out / "report.html").read_text())
    assert parser.tables["baselines"] == ["baseline", "frames", "CorLoc", "side", "centred box", "6",
                                          f"{corloc:.2f}", f"{side:.2f}"]
    assert "centred box" not in parser.tables["summary"]
    assert "Baseline, not a method" in (out / "report.html").read_text()


def test_the_reproducibility_block_in_json_and_html(tmp_path):
    env = {"threads": 1, "device": "NVIDIA H100", "cuda": "12.8", "cudnn": 91002, "wsvol_commit": "0123abcd" * 5,
           "libraries": {"wsvol": "0.1.0"}}
    rep = {"created": "2026-01-02T03:04:05+00:00", "config": "configs/trcamv.yaml", "config_sha256": "f" * 64,
           "training_seed": 7, "deterministic": True,
           "checkpoints": {"pseudo-labels": None, "trcamv": "work/best_corloc_epoch_3.pth"}}
    write_report(tmp_path, {"pseudo-labels": result(FRAMES), "trcamv": result(FRAMES)}, n_boot=20, seed=5,
                 environment=env, reproducibility=rep)
    meta = json.loads((tmp_path / "report.json").read_text())["meta"]
    assert meta["reproducibility"] == rep and meta["environment"] == env
    assert meta["bootstrap_seed"] == 5 and "seed" not in meta  # never taken for the training seed
    parser = Cells()
    parser.feed((tmp_path / "report.html").read_text())
    cells = dict(zip(*[iter(parser.tables["reproducibility"])] * 2))
    assert cells["created"] == rep["created"] and cells["config"] == rep["config"]
    assert cells["config.yaml sha256 (the merged config, as run)"] == "f" * 64
    assert cells["training seed (randomness.seed)"] == "7"
    assert cells["deterministic (randomness.deterministic)"] == "True"
    assert cells["checkpoint tested: trcamv"] == "work/best_corloc_epoch_3.pth"
    assert cells["checkpoint tested: pseudo-labels"] == "—"
    assert cells["wsvol commit"] == env["wsvol_commit"] and cells["CUDA, cuDNN"] == "12.8, 91002"
    assert cells["bootstrap seed (intervals only)"] == "5"


def test_the_reproducibility_block_names_where_each_part_of_the_run_ran(tmp_path):
    rep = {"segments": [{"at": "2026-12-01 08:00:00", "resumed": False, "differences": ["threads: 2 → 8"]},
                        {"at": "2026-12-02 08:00:00", "resumed": True, "differences": None},
                        {"at": "2026-12-03 08:00:00", "resumed": True, "differences": []}],
           "checkpoint_runs": {"runs/a": [{"at": "2026-11-30 08:00:00", "resumed": False, "differences": []}]}}
    write_report(tmp_path, {"trcamv": result(FRAMES)}, n_boot=20, environment={"threads": 8}, reproducibility=rep)
    parser = Cells()
    parser.feed((tmp_path / "report.html").read_text())
    cells = list(zip(*[iter(parser.tables["reproducibility"])] * 2))
    assert [c for c in cells if c[0].startswith("run ")] == [
        ("run started", "2026-12-01 08:00:00, in another environment than above: threads: 2 → 8"),
        ("run resumed", "2026-12-02 08:00:00, environment not recorded"),
        ("run resumed", "2026-12-03 08:00:00, in the environment above"),
    ]
    assert ("started: the run of the checkpoint in runs/a", "2026-11-30 08:00:00, in the environment above") in cells


def test_the_environment_line_names_cuda_cudnn_and_the_commit():
    from wsvol.report.tables import describe_environment

    line = describe_environment({"threads": 2, "device": "NVIDIA H100", "cuda": "12.8", "cudnn": 91002,
                                 "wsvol_commit": "0123abc", "libraries": {"wsvol": "0.1.0"}, "platform": "Linux"})
    assert line == "threads 2, NVIDIA H100, CUDA 12.8, cuDNN 91002; wsvol 0.1.0; wsvol commit: 0123abc; platform: Linux"
    assert "CUDA" in describe_environment({"cuda": "12.8"})
    assert describe_environment({"threads": 1, "device": "cpu", "cuda": None, "cudnn": None}) == "threads 1, cpu"
