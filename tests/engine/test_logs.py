"""A job's output outside a terminal (a log file, nohup, SLURM): result tables at full width,
loss and learning-rate lines at the logger interval, progress lines for the loops, and the
mmengine ``.log`` holding the loss lines although the console shows warnings only."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tiny_configs import tiny_config  # beside this file

from wsvol.data.synthetic import generate_synthetic

#: validate every epoch, log every 2 of the 5 iterations of an epoch (40 tiny shots, batch 8)
OVERRIDES = """\
train_cfg: {by_epoch: true, max_epochs: 2, val_interval: 1}
default_hooks:
  logger: {type: LoggerHook, interval: 2}
  checkpoint: {type: CheckpointHook, interval: 1, save_best: corloc_mean, rule: greater}
report: {n_boot: 20, overlays: 2}
"""


def test_a_run_logged_to_a_file(tmp_path):
    data = tmp_path / "data"
    generate_synthetic(data, size="tiny", progress=False)
    cfg = tiny_config(tmp_path, data, OVERRIDES, validate=True)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_TERMINAL", "TTY_COMPATIBLE")}
    env.update(OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    with open(tmp_path / "job.log", "w") as log:  # stdout and stderr into a file, as under nohup
        done = subprocess.run([sys.executable, "-m", "wsvol", "run", str(cfg), "--work-dir", "run"],
                              cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=900)
    text = (tmp_path / "job.log").read_text()
    assert done.returncode == 0, text[-3000:]

    # loss and learning rate every 2 iterations and at the end of each epoch, with the loss terms
    train = [line for line in text.splitlines() if line.startswith("train: ")]
    iters = [re.search(r"epoch (\d)/2 iter (\d)/5", line).groups() for line in train]
    assert iters == [("1", "2"), ("1", "4"), ("1", "5"), ("2", "2"), ("2", "4"), ("2", "5")]
    assert all(re.search(r" loss \d\.\d+.* lr 5\.000e-02 ", line) for line in train), train
    assert "(all 4/10, 40 %)" in train[1] and "left ~" in train[1] and "left" not in train[-1]

    # progress lines of validation and testing, ending at 100 %
    assert re.search(r"^val: 6/6 \(100 %\)", text, re.M) and re.search(r"^test: 6/6 \(100 %\)", text, re.M)

    # the report tables whole: no cell cut, lines wider than 80 columns
    assert "…" not in text
    summary = text[text.index("Summary ("):]
    assert "class mean" in summary and "PxIoU" in summary
    assert max(len(line) for line in summary.splitlines()[:8]) > 80
    assert "\x1b[" not in text  # no colour codes in a file
    # none of mmengine's notices about its own internals or wsvol's unprefixed metric names
    for notice in ('"FileClient" will be deprecated', '"HardDiskBackend" is the alias', "The prefix is not set"):
        assert notice not in text

    # mmengine's .log: the LoggerHook's loss lines although the console level is WARNING
    logs = list((tmp_path / "run").glob("*/*.log"))
    assert len(logs) == 1
    mm = logs[0].read_text()
    # every 2 iterations (mmengine leaves out the last, incomplete interval of an epoch)
    assert re.findall(r"Epoch\(train\) +\[(\d)\]\[(\d)/5\].* lr: 5\.0+e-02 .* loss: \d", mm) == [
        ("1", "2"), ("1", "4"), ("2", "2"), ("2", "4")]
    # the same loss in both: the mean over mmengine's window (10 iterations), not the last batch's
    ours = {m[:2]: float(m[2]) for m in re.findall(r"^train: epoch (\d)/2 iter (\d)/5 .* loss ([\d.]+)", text, re.M)}
    theirs = {m[:2]: float(m[2]) for m in re.findall(r"Epoch\(train\) +\[(\d)\]\[(\d)/5\].* loss: ([\d.]+)", mm)}
    assert len(theirs) == 4 and all(abs(ours[k] - v) <= 1e-3 * max(1.0, v) for k, v in theirs.items()), (ours, theirs)
    assert "Epoch(train)" not in text  # the console stays at log_level WARNING
