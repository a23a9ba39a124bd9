"""`wsvol data synth` and `wsvol data check` as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CONFIG = Path(__file__).parents[2] / "configs" / "cam" / "layercam_synthetic.yaml"


def wsvol(*args, cwd):
    return subprocess.run([sys.executable, "-m", "wsvol", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"})


def test_synth_then_check_then_a_corrupt_frame_is_reported(tmp_path):
    out = wsvol("data", "synth", "--out", "syn", "--size", "tiny", "--seed", "3", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    cfg = tmp_path / "chk.yaml"
    cfg.write_text(f"_base_: {CONFIG}\nsynthetic: {{out: syn, size: tiny, seed: 3}}\n"
                   + "".join(f"{k}_dataloader: {{dataset: {{data_root: syn, folds_root: syn/folds}}}}\n"
                             for k in ("train", "val", "test")))
    ok = wsvol("data", "check", str(cfg), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "split 'test'" in ok.stdout and "total" in ok.stdout
    frame = next((tmp_path / "syn").rglob("frame_*.jpg"))
    frame.write_bytes(frame.read_bytes()[:200])  # truncated JPEG
    bad = wsvol("data", "check", str(cfg), cwd=tmp_path)
    assert bad.returncode == 1
    assert frame.relative_to(tmp_path / "syn").as_posix() in bad.stdout + bad.stderr


def test_check_of_the_real_folds_without_frames_says_so_once_per_split(tmp_path, real_v1_folds):
    """The published v1.0 folds pass; the absent frames are one summary line per split."""
    config = Path(__file__).parents[2] / "configs" / "trcamv_ytov1.yaml"
    options = [f"{k}_dataloader.dataset.{key}={value}" for k in ("train", "val", "test")
               for key, value in (("folds_root", real_v1_folds), ("data_root", "frames"))]
    out = wsvol("data", "check", str(config), "--no-decode", "--cfg-options", *options, cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    lines = out.stdout.splitlines()
    problems = [line for line in lines if "missing under" in line]
    assert problems == [
        "2768 of 2768 shot folders missing under frames (first: frames/aeroplane/data/0013/shots/330, "
        f"listed at {real_v1_folds}/train/image_ids.txt:1; frames itself does not exist)",
        "325 of 325 frames missing under frames (first: frames/aeroplane/data/0004/shots/004/frame0101.jpg; "
        "frames itself does not exist)",
        "346 of 346 frames missing under frames (first: frames/aeroplane/data/0009/shots/102/frame0001.jpg; "
        "frames itself does not exist)",
    ]
    assert len(lines) < 120  # three tables and three lines, not one line per frame
    assert "split 'train'" in out.stdout and "2768" in out.stdout


def test_prepare_ytov22_then_check_then_standin(tmp_path):
    """The documented steps on a stand-in v2.2 release: prepare (frames linked), check the config's
    splits; folds only plus stand-in frames, checked with a warning."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "data" / "releases"))
    from release_trees import write_v22_release

    from wsvol.data.releases import prepare_ytov22

    shots = {c: [(1, 1, 2), (2, 3, 4), (3, 5, 6), (4, 7, 8), (5, 9, 10)] for c in ("aeroplane", "cow")}
    gt = {c: {"bb_gtTraining": [(1, [[1, 1, 20, 20]]), (3, [[2, 2, 30, 20]]), (5, [[1, 1, 9, 9]]),
                                (8, [[4, 4, 12, 30]])],
              "bb_gtTest": [(10, [[3, 3, 40, 28], [5, 5, 9, 9]])]} for c in shots}
    release = write_v22_release(tmp_path / "data" / "YouTube-Objects-v2.2-original", shots, gt,
                                {(c, v): (48, 32) for c in shots for v in range(1, 6)})
    out = wsvol("data", "prepare", "ytov22", str(release), "folds/YouTube-Objects-v2.2",
                "--data-root", "data/YouTube-Objects-v2.2", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "wrote train (2), val (6), test (2) to folds/YouTube-Objects-v2.2" in out.stdout
    config = Path(__file__).parents[2] / "configs" / "trcamv_ytov22.yaml"  # its paths, run from tmp_path
    ok = wsvol("data", "check", str(config), cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "stand-in" not in ok.stdout

    prepare_ytov22(release, tmp_path / "folds2", frames="none", progress=False)  # the fold files only
    out = wsvol("data", "standin", "folds2", "frames2", cwd=tmp_path)
    assert out.returncode == 0 and "they are not the real dataset" in out.stdout, out.stderr
    options = [f"{k}_dataloader.dataset.{key}={value}" for k in ("train", "val", "test")
               for key, value in (("folds_root", "folds2"), ("data_root", "frames2"))]
    ok = wsvol("data", "check", str(config), "--cfg-options", *options, cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "holds stand-in frames (wsvol-standin.json): results on them mean nothing" in ok.stdout


def test_prepare_names_what_is_missing(tmp_path):
    out = wsvol("data", "prepare", "ytov1", "nowhere", "folds", cwd=tmp_path)
    assert out.returncode == 1
    assert "nowhere is not the YouTube-Objects v1.0 release folder: no aeroplane/sets/" in out.stderr
    out = wsvol("data", "prepare", "ytov22", "nowhere", "folds", cwd=tmp_path)
    assert out.returncode == 1 and "--data-root DIR says where the frames go" in out.stderr


def test_check_goes_on_after_a_split_that_cannot_be_read(tmp_path):
    assert wsvol("data", "synth", "--out", "syn", "--size", "tiny", cwd=tmp_path).returncode == 0
    cfg = tmp_path / "chk.yaml"
    cfg.write_text(f"_base_: {CONFIG}\nsynthetic: {{out: syn, size: tiny}}\n"
                   + "".join(f"{k}_dataloader: {{dataset: {{data_root: syn, folds_root: syn/folds}}}}\n"
                             for k in ("train", "val", "test")))
    for name in ("image_ids.txt", "class_labels.txt"):
        (tmp_path / "syn" / "folds" / "val" / name).unlink()  # the split in the middle is broken
    out = wsvol("data", "check", str(cfg), "--no-decode", cwd=tmp_path)
    assert out.returncode == 1
    assert "val: cannot read split 'val'" in out.stdout and "image_ids.txt" in out.stdout
    assert "split 'train'" in out.stdout and "split 'test'" in out.stdout  # before and after it


def test_standin_of_a_reduced_copy_of_the_real_folds(tmp_path, real_v1_folds, monkeypatch, capsys):
    """--per-class/--at-most/--subset-folds: a few real fold lines and frames for them, which a YTO
    config then reads; --at-most alone, or a malformed one, is refused before anything is written."""
    from wsvol.cli.main import main

    monkeypatch.chdir(tmp_path)
    assert main(["data", "standin", str(real_v1_folds), "frames", "--frames-per-shot", "1", "--per-class", "1",
                 "--at-most", "train=2", "val=3", "--subset-folds", "sub"]) == 0
    out = capsys.readouterr().out
    assert f"wrote train (2), val (3), test (10) of {real_v1_folds} to sub" in out
    assert "stand-in frames (train: 2, val: 3, test: 10)" in out
    config = Path(__file__).parents[2] / "configs" / "trcamv_ytov1.yaml"
    options = [f"{k}_dataloader.dataset.{key}={value}" for k in ("train", "val", "test")
               for key, value in (("folds_root", "sub"), ("data_root", "frames"))]
    assert main(["data", "check", str(config), "--cfg-options", *options]) == 0, capsys.readouterr().out
    for bad, message in ((["--at-most", "val=3"], "--at-most goes with --per-class"),
                         (["--per-class", "1", "--at-most", "val", "--subset-folds", "x"], "expected SPLIT=N"),
                         (["--per-class", "1"], "--per-class K and --subset-folds DIR go together")):
        assert main(["data", "standin", str(real_v1_folds), "more", *bad]) == 1
        assert message in capsys.readouterr().err
        assert not (tmp_path / "more").exists() and not (tmp_path / "x").exists()


@pytest.mark.parametrize("flag", ["--stride", "--max-frames", "--shot-length"])
def test_import_counts_below_one_are_refused_when_parsed(flag, tmp_path, capsys):
    from wsvol.cli.main import main

    with pytest.raises(SystemExit) as exit_:  # before the source is looked at: it does not exist
        main(["data", "import", str(tmp_path / "nowhere"), str(tmp_path / "out"), flag, "0"])
    assert exit_.value.code == 2 and f"argument {flag}: must be >= 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
