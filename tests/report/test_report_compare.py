"""``build_comparison`` on hand-made per-frame results: the table computed by hand, the pairing by
frame, published numbers for YouTube-Objects only, and the refusals."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from rich.console import Console

from wsvol.data.classes import YOUTUBE_OBJECTS_CLASSES
from wsvol.evaluation.classification import evaluate_classification
from wsvol.evaluation.corloc import LocalizationResult
from wsvol.evaluation.metrics import EvaluationResult
from wsvol.report.compare import (
    ComparisonError,
    Entry,
    build_comparison,
    print_comparison,
    write_comparison,
)
from wsvol.report.published import PUBLISHED

VIDEOS = ["cat/v1", "cat/v1", "cat/v2", "cat/v2", "dog/v3", "dog/v3", "dog/v4", "dog/v4"]
LABELS = [0, 0, 0, 0, 1, 1, 1, 1]
# correctness at 3 thresholds, frame by frame
A = [[1, 1, 0], [0, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [0, 0, 1], [0, 0, 0]]
B = [[1, 0, 0]] * 6 + [[0, 0, 0]] * 2
PRED_A = [0, 0, 0, 1, 1, 1, 1, 1]
PRED_B = [0, 0, 1, 1, 1, 1, 0, 0]
# By hand. A: every τ column has 3 of 8 correct → CorLoc 37.5; cat: 3/4 at τ1 → 75, dog: 3/4 at τ2 → 75;
# mean 75; CL 7/8 = 87.5. B: 6/8 at τ0 → 75; cat 4/4 → 100, dog 2/4 → 50; mean 75; CL 4/8 = 50.


def make(correct, preds, order=None, classes=("cat", "dog"), frames=None, labels=None, videos=VIDEOS, boxes=None):
    n = len(correct)
    boxes = boxes or [np.zeros((1, 4), np.int64)] * n
    order = np.arange(n) if order is None else np.asarray(order)
    frames = frames or [f"{videos[i]}/f{i}.jpg" for i in range(n)]
    labels = np.asarray(labels or LABELS)
    loc = LocalizationResult(
        taus=np.array([0.1, 0.5, 0.9]), correct=np.asarray(correct, bool)[order], labels=labels[order],
        gt_boxes=[np.asarray(boxes[i]) for i in order], num_classes=len(classes), eval_size=(224, 224),
        frame_ids=[frames[i] for i in order], video_ids=[videos[i] for i in order])
    return EvaluationResult(loc, evaluate_classification(labels[order], np.asarray(preds)[order], len(classes)),
                            list(classes), scores=np.full(n, 0.5), areas=np.full(n, 0.1))


def row(table, method):
    return next(r for r in table if r["method"] == method)


@pytest.fixture(scope="module")
def comparison():
    entries = [Entry("A", make(A, PRED_A), "run A", "layercam"),
               Entry("B", make(B, PRED_B, order=[7, 3, 5, 1, 0, 2, 6, 4]), "run B", "cam")]  # B's rows shuffled
    return build_comparison(entries, reference="A", n_boot=300)


def test_per_class_means_and_cl_by_hand(comparison):
    a, b = row(comparison["summary"], "A"), row(comparison["summary"], "B")
    assert (a["frames"], a["videos"]) == (8, 4)
    assert (a["corloc"], a["corloc_mean"], a["cl"]) == (37.5, 75.0, 87.5)
    assert (b["corloc"], b["corloc_mean"], b["cl"]) == (75.0, 75.0, 50.0)
    pa, pb = row(comparison["per_class"], "A"), row(comparison["per_class"], "B")
    assert (pa["cat"], pa["dog"], pa["corloc_mean"]) == (75.0, 75.0, 75.0)
    assert (pb["cat"], pb["dog"], pb["corloc_mean"]) == (100.0, 50.0, 75.0)
    assert row(comparison["methods"], "A")["per_class_tau"] == [0.5, 0.9]


def test_differences_against_the_reference(comparison):
    a, b = row(comparison["summary"], "A"), row(comparison["summary"], "B")
    assert a["d_corloc"] is None and a["d_cl"] is None  # the reference itself
    assert b["d_corloc"] == pytest.approx(37.5) and b["d_cl"] == pytest.approx(-37.5)
    assert b["d_corloc_low"] <= b["d_corloc"] <= b["d_corloc_high"]
    assert b["d_cl_low"] <= b["d_cl"] <= b["d_cl_high"]
    stats = {r["statistic"] for r in comparison["differences"]}
    assert stats == {"corloc - corloc[A]", "cl - cl[A]"}
    assert comparison["meta"]["reference"] == "A" and comparison["meta"]["frames"] == 8


def test_differences_are_paired_by_frame_not_by_row():
    """A copy of A with its rows shuffled differs from A by exactly 0 on every resample: the
    interval is [0, 0] only if frames are paired by id (a row-wise or unpaired resample is not)."""
    order = [3, 6, 0, 7, 1, 4, 2, 5]
    c = build_comparison([Entry("A", make(A, PRED_A)), Entry("A again", make(A, PRED_A, order=order))], n_boot=200)
    again = row(c["summary"], "A again")
    assert [again[k] for k in ("d_corloc", "d_corloc_low", "d_corloc_high", "d_cl", "d_cl_low", "d_cl_high")] == [0] * 6


def test_reference_changes_the_sign(comparison):
    entries = [Entry("A", make(A, PRED_A)), Entry("B", make(B, PRED_B))]
    c = build_comparison(entries, reference="B", n_boot=300)
    a, b = row(c["summary"], "A"), row(c["summary"], "B")
    assert b["d_corloc"] is None and a["d_corloc"] == pytest.approx(-37.5) and a["d_cl"] == pytest.approx(37.5)
    assert [r["method"] for r in c["summary"]] == ["A", "B"]  # the order given, whatever the reference


def test_no_published_numbers_without_a_release(comparison):
    assert [r["source"] for r in comparison["summary"]] == ["measured", "measured"]
    assert comparison["meta"]["release"] is None


def yto(correct_class, preds_right=True):
    """20 frames, 2 per YouTube-Objects class, 2 videos per class; ``correct_class``: frames of
    class c correct at τ0 when c < correct_class."""
    n = 20
    labels = [i // 2 for i in range(n)]
    videos = [f"{YOUTUBE_OBJECTS_CLASSES[c]}/v{i % 2}" for i, c in enumerate(labels)]
    correct = [[c < correct_class, False, False] for c in labels]
    return make(correct, labels if preds_right else [0] * n, classes=YOUTUBE_OBJECTS_CLASSES,
                labels=labels, videos=videos)


def test_published_numbers_beside_a_youtube_objects_comparison(tmp_path):
    entries = [Entry("tcam here", yto(7), published_key="tcam"), Entry("layercam here", yto(5), published_key="layercam"),
               Entry("pseudo-labels", yto(3), published_key=None)]
    c = build_comparison(entries, release="ytov1", n_boot=100)
    published = [r for r in c["summary"] if r["source"] != "measured"]
    assert [r["method"] for r in published] == ["LayerCAM (published)", "TCAM (published)"]  # the papers' order
    tcam = row(c["per_class"], "TCAM (published)")
    assert [tcam[k] for k in YOUTUBE_OBJECTS_CLASSES] == [90.5, 70.4, 62.2, 75.7, 84.8, 81.0, 81.0, 64.5, 70.4, 50.0]
    assert tcam["corloc_mean"] == 73.0 and "poster" in tcam["source"]
    assert row(c["summary"], "TCAM (published)")["frames"] is None
    assert row(c["per_class"], "tcam here")["corloc_mean"] == 70.0  # 7 classes of 10 at 100 %
    assert row(c["methods"], "tcam here")["published_as"] == "TCAM"
    assert row(c["methods"], "pseudo-labels")["published_as"] is None
    v22 = build_comparison(entries[:1], release="ytov22", n_boot=50)
    assert row(v22["summary"], "TCAM (published)")["corloc_mean"] == 72.2
    trcamv = build_comparison([Entry("t", yto(2), published_key="trcamv_clip")], release="ytov1", n_boot=50)
    published = row(trcamv["summary"], "TrCAM-V (CLIP) (published)")
    assert (published["corloc_mean"], published["cl"]) == (84.8, 92.2)
    assert all(row(trcamv["per_class"], "TrCAM-V (CLIP) (published)")[k] is None for k in YOUTUBE_OBJECTS_CLASSES)

    write_comparison(tmp_path, c)
    with open(tmp_path / "tables" / "per_class.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["method"] for r in rows][-1] == "TCAM (published)" and rows[-1]["aeroplane"] == "90.5"
    page = (tmp_path / "compare.html").read_text()
    assert "TCAM (published)" in page and "YouTube-Objects v1.0" in page
    data = json.loads((tmp_path / "compare.json").read_text())
    assert data["meta"]["release"] == "ytov1" and data["summary"][0]["method"] == "tcam here"


def test_published_averages_are_the_means_of_their_per_class_values():
    for release in PUBLISHED.values():
        for p in release:
            if p.per_class:
                assert len(p.per_class) == 10
                assert abs(np.mean(p.per_class) - p.corloc_mean) <= 0.06, p.method


def test_written_files_and_terminal(comparison, tmp_path):
    page = write_comparison(tmp_path, comparison)
    assert page == tmp_path / "compare.html" and "<table id='summary'>" in page.read_text()
    with open(tmp_path / "tables" / "summary.csv") as f:
        summary = list(csv.DictReader(f))
    assert float(row(summary, "B")["d_corloc"]) == pytest.approx(37.5) and row(summary, "A")["d_corloc"] == ""
    assert {p.name for p in (tmp_path / "tables").iterdir()} == {f"{t}.csv" for t in
                                                                 ("summary", "per_class", "differences", "methods")}
    console = Console(record=True, width=220)
    print_comparison(comparison, console)
    text = console.export_text()
    assert "37.50" in text and "CorLoc per class" in text and "cat" in text


def test_each_methods_tau_is_shown(comparison, tmp_path):
    """The τ of each method's CorLoc in the summary of the page and the terminal; none for a published row."""
    taus = {r["method"]: r["best_tau"] for r in comparison["summary"]}
    assert taus == {"A": 0.1, "B": 0.1}
    page = write_comparison(tmp_path, comparison).read_text()
    summary = page.split("<table id='summary'>")[1].split("</table>")[0]
    assert "<th>τ</th>" in summary and summary.count("<td>0.100</td>") == 2
    console = Console(record=True, width=250)
    print_comparison(comparison, console)
    text = console.export_text().split("Comparison on")[1]
    assert " τ " in text and text.count("0.100") == 2
    published = build_comparison([Entry("tcam here", yto(7), published_key="tcam")], release="ytov1", n_boot=20)
    assert row(published["summary"], "TCAM (published)")["best_tau"] is None
    page = write_comparison(tmp_path / "p", published).read_text()
    tcam = page.split("TCAM (published)</td>")[1].split("</tr>")[0]
    assert tcam.count("<td>—</td>") >= 1 and "<td>0.100</td>" not in tcam


def test_a_class_without_test_frames_in_the_comparison(tmp_path):
    """A class no run has a frame of: its column is —, the class mean over the others, and a note."""
    classes, labels = ("cat", "bird", "dog"), [2 * c for c in LABELS]
    entries = [Entry("A", make(A, [2 * p for p in PRED_A], classes=classes, labels=labels)),
               Entry("B", make(B, [2 * p for p in PRED_B], classes=classes, labels=labels))]
    c = build_comparison(entries, n_boot=50)
    pa = row(c["per_class"], "A")
    assert (pa["cat"], pa["bird"], pa["dog"], pa["corloc_mean"]) == (75.0, None, 75.0, 75.0)
    assert row(c["methods"], "A")["per_class_tau"] == [0.5, None, 0.9]
    assert any(n.startswith("class mean over the 2 of 3 classes with test frames; no test frame of bird")
               for n in c["meta"]["notes"])
    page = write_comparison(tmp_path, c).read_text()
    per_class = page.split("<table id='per_class'>")[1].split("</table>")[0]
    assert "<th>bird</th>" in per_class
    assert "<td>A</td><td>75.0</td><td>—</td><td>75.0</td><td>75.0</td>" in per_class
    assert "class mean over the 2 of 3 classes" in page
    assert json.loads((tmp_path / "compare.json").read_text())["per_class"][0]["bird"] is None
    console = Console(record=True, width=250)
    print_comparison(c, console)
    assert "no test frame of bird" in " ".join(console.export_text().split())


# -- refusals ------------------------------------------------------------------------------------
def test_different_frames_are_refused_or_intersected():
    short = make(B[:7], PRED_B[:7], labels=LABELS[:7])
    with pytest.raises(ComparisonError, match=r"not tested on the same frames \(A: 1 of its 8 frames are not in every "
                                              r"other run; 7 frames are common to all\)\. Pass --intersection"):
        build_comparison([Entry("A", make(A, PRED_A)), Entry("B", short)])
    c = build_comparison([Entry("A", make(A, PRED_A)), Entry("B", short)], intersection=True, n_boot=50)
    a = row(c["summary"], "A")
    assert c["meta"]["frames"] == 7 and a["frames"] == 7
    assert a["cl"] == pytest.approx(6 / 7 * 100)  # A's CL on its first 7 frames
    assert any("7 frames common" in n for n in c["meta"]["notes"])
    other = make(A, PRED_A, frames=[f"x/{i}.jpg" for i in range(8)])
    with pytest.raises(ComparisonError, match="no test frame in common"):
        build_comparison([Entry("A", make(A, PRED_A)), Entry("X", other)], intersection=True)


def test_different_class_lists_are_refused():
    with pytest.raises(ComparisonError, match=r"different class lists, only in A: \['dog'\]; only in B: \['cow'\]"):
        build_comparison([Entry("A", make(A, PRED_A)), Entry("B", make(B, PRED_B, classes=("cat", "cow")))])
    with pytest.raises(ComparisonError, match="another order"):
        build_comparison([Entry("A", make(A, PRED_A)), Entry("B", make(B, PRED_B, classes=("dog", "cat")))])


def test_frames_with_other_true_boxes_are_refused():
    """Two datasets (another synthetic seed) can share frame ids and classes; their boxes tell them apart."""
    boxes = [np.array([[i, i, 10 + i, 10 + i]]) for i in range(8)]
    a = Entry("A", make(A, PRED_A, boxes=boxes), "/runs/a (A)")
    moved = [b + (3 if i == 5 else 0) for i, b in enumerate(boxes)]
    other = Entry("D", make(B, PRED_B, boxes=moved, order=[7, 3, 5, 1, 0, 2, 6, 4]), "/runs/d (D)")
    with pytest.raises(ComparisonError, match=r"frame dog/v3/f5.jpg has other true boxes in /runs/d \(D\) "
                                              r"\(\[\[8, 8, 18, 18\]\]\) than in /runs/a \(A\) .*different data"):
        build_comparison([a, other])
    with pytest.raises(ComparisonError, match="other true boxes"):  # --intersection does not pair them either
        build_comparison([a, other], intersection=True)
    two = [np.array([[0, 0, 5, 5], [1, 1, 9, 9]])] * 8
    swapped = [b[::-1] for b in two]  # the same boxes in another order: the same frame
    c = build_comparison([Entry("A", make(A, PRED_A, boxes=two)), Entry("B", make(B, PRED_B, boxes=swapped))],
                         n_boot=20)
    assert c["meta"]["frames"] == 8


def test_published_rows_on_other_data_are_flagged(tmp_path):
    entries = [Entry("layercam here", yto(5), published_key="layercam")]
    warning = "the published rows are the papers' numbers on YouTube-Objects v1.0, but these runs were tested on synthetic data"
    c = build_comparison(entries, release="ytov1", n_boot=20, published_warning=warning)
    assert c["meta"]["published_warning"] == warning
    assert "LayerCAM (published)" in [r["method"] for r in c["summary"]]  # the user's choice is kept
    page = write_comparison(tmp_path, c).read_text()
    assert f"<strong>Warning: {warning.replace(chr(39), '&#x27;')}</strong>" in page
    assert "Data: YouTube-Objects v1.0" not in page
    assert "published rows: YouTube-Objects v1.0, not these runs&#x27; data" in page
    console = Console(record=True, width=400)
    print_comparison(c, console)
    text = console.export_text()
    assert f"warning: {warning}" in text and "not these runs' data" in text
    plain = build_comparison(entries, release="ytov1", n_boot=20)
    assert plain["meta"]["published_warning"] is None
    assert "Data: YouTube-Objects v1.0" in write_comparison(tmp_path / "plain", plain).read_text()
    assert build_comparison(entries, n_boot=20, published_warning=warning)["meta"]["published_warning"] is None


def test_other_refusals():
    a = make(A, PRED_A)
    with pytest.raises(ComparisonError, match="share the label 'A'"):
        build_comparison([Entry("A", a), Entry("A", a)])
    with pytest.raises(ComparisonError, match="reference 'C' is none of the methods: A, B"):
        build_comparison([Entry("A", a), Entry("B", a)], reference="C")
    relabelled = make(A, PRED_A, labels=[1 - x for x in LABELS])
    with pytest.raises(ComparisonError, match="is class 1 in B but class 0 in A"):
        build_comparison([Entry("A", a), Entry("B", relabelled)])
    with pytest.raises(ComparisonError, match="YouTube-Objects classes"):
        build_comparison([Entry("A", a)], release="ytov1")
    with pytest.raises(ComparisonError, match="n_boot >= 1 and 0 < confidence < 1, got 0 and 0.95"):
        build_comparison([Entry("A", a)], n_boot=0)
    with pytest.raises(ComparisonError, match="not 'ytov3'"):
        build_comparison([Entry("A", a)], release="ytov3")
