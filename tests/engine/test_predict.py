"""`wsvol predict` on a user's video: one row per frame with a class, a score and a box inside it."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import av
import cv2
import pytest
from tiny_configs import tiny_config  # beside this file (pytest puts its folder on sys.path)

from wsvol.data.synthetic import generate_synthetic

TINY = """\
train_dataloader: {dataset: {pipeline: [{type: resize, size: [32, 32]}, {type: normalize}, {type: pack_inputs}]}}
test_dataloader: {batch_size: 8}
optim_wrapper: {optimizer: {type: SGD, lr: 0.01, momentum: 0.0}}
"""


def wsvol(*args, cwd):
    out = subprocess.run([sys.executable, "-m", "wsvol", *args], cwd=cwd, capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""})
    assert out.returncode == 0, out.stderr[-3000:]
    return out


@pytest.mark.slow
def test_predict_writes_a_row_and_an_overlay_per_frame(tmp_path):
    data = tmp_path / "data"
    generate_synthetic(data, size="tiny", progress=False)
    tiny_config(tmp_path, data, TINY, name="cfg.yaml")
    wsvol("train", "cfg.yaml", "--work-dir", "run", cwd=tmp_path)

    frames = sorted(data.rglob("frame_*.jpg"))[:6]
    video = tmp_path / "clip.mp4"
    with av.open(str(video), "w") as container:
        stream = container.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 80, 60, "yuv420p"
        for f in frames:
            rgb = cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())

    wsvol("predict", "run/epoch_1.pth", "clip.mp4", "--out", "pred", "--stride", "2", cwd=tmp_path)
    rows = list(csv.DictReader(open(tmp_path / "pred" / "predictions.csv")))
    assert [int(r["frame"]) for r in rows] == [0, 2, 4]
    assert {"class", "score", "x0", "y1"} <= set(json.loads((tmp_path / "pred" / "predictions.json").read_text())["frames"][0])
    for r in rows:
        x0, y0, x1, y1 = (int(r[k]) for k in ("x0", "y0", "x1", "y1"))
        assert 0 <= x0 <= x1 <= 79 and 0 <= y0 <= y1 <= 59  # boxes in frame pixels
        assert 0.0 <= float(r["score"]) <= 1.0
    pngs = sorted((tmp_path / "pred" / "frames").glob("*.png"))
    assert len(pngs) == 3 and cv2.imread(str(pngs[0])) is not None
    assert all(r["class"] in ("aeroplane", "bird", "boat", "car", "cat", "cow", "dog", "horse",
                              "motorbike", "train") for r in rows)
