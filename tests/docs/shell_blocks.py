"""The ```bash blocks of README.md and docs/*.md, and the shell they run in for the docs test.

Marker convention (an HTML comment on the line right before the fence, invisible when rendered):

    <!-- docs-test: skip: <why> -->     the block is not run; the reason is required
                                       (several machines, a long benchmark, the whole test suite)
    <!-- docs-test: setup: <command> --> <command> runs first, in the same shell: what the page
                                       assumes was done before (a finished run, fetched weights)

Every other ```bash block is run, in the order of its file, in one scratch folder per file that
holds links to the repository's ``configs/``, ``plugins/`` and ``benchmarks/``, with
``set -euo pipefail``, and must exit 0. The blocks of a page share one shell session as a reader's
terminal would: what a block exports and the folder it ends in carry over to the next. A ```yaml
block whose first line is ``# NAME.yaml`` is a file the page has you write: it is written there,
in its place in the page. The commands are run as written; what makes them cheap
and possible here is the shell they run in:

- ``wsvol``: the real command, with jobs (run, train, test, visualize, pseudo-labels) on a config
  shrunk by extra ``--cfg-options`` before the command's own: one epoch, no loader workers, small
  batches, a small bootstrap; a synthetic config also uses the ``tiny`` synthetic data at its own
  path and its ResNet (trained from scratch) at a quarter of its widths, and its ``baseline``
  config is shrunk the same way. ``--amp`` is dropped (with a note)
  where torch sees no CUDA device. A ``wsvol run`` (without ``--work-dir`` or ``--resume``) that a
  page of this session already ran with the same arguments from the same folder is replayed: the
  files it wrote are copied in (paths in its text files moved to this page's folder) and its
  output printed again, with a note. The job is deterministic (tests/engine/test_reproducible.py),
  and README, docs/index, quickstart and predict all start from the main job;
- ``curl``, ``wget`` and ``hf``: the stand-in network of ``network.py`` (random-init weights in the
  published layouts, stand-in YouTube-Objects archives); ``standin-weights NAME...`` places
  weights as docs/weights.md fetches them;
- ``python3.11 -m venv DIR`` makes an empty ``DIR/bin/activate`` and ``pip install`` does
  nothing (wsvol is already installed where the test runs); every other ``python3.11`` call is
  this Python;
- a user's own files the docs name: ``clip.mp4`` (a 2-second video) and ``frames_folder/`` (its
  frames as JPEGs);
- ``$WSVOL_WEIGHTS`` is the scratch folder's ``weights/``, empty at first.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<what>\w+)\s*(?::\s*(?P<why>.*?))?\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w-]*)\s*$")


@dataclass
class Block:
    """One fenced ```bash block."""

    path: Path
    line: int  # of the opening fence, 1-based
    code: str
    skip: str | None  # the reason, for a block marked skip
    setup: str | None = None  # a command to run first, for a block marked setup
    writes: str | None = None  # for a ```yaml block that starts "# NAME.yaml": the file the page has you write

    @property
    def where(self) -> str:
        path = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{path}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The ```bash blocks of a Markdown file, with their markers, and the ```yaml blocks that name
    the file they are (``# my_config.yaml`` on their first line); a malformed marker raises."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            mark = MARKER.match(lines[i])
            if mark and not (i + 1 < len(lines) and FENCE.match(lines[i + 1])):
                raise ValueError(f"{path}:{i + 1}: a docs-test marker must be right before a ``` fence")
            if "docs-test" in lines[i] and not mark:
                raise ValueError(f"{path}:{i + 1}: malformed marker; write <!-- docs-test: skip: <why> --> "
                                 "or <!-- docs-test: setup: <command> -->")
            i += 1
            continue
        start, indent = i, len(fence["indent"])
        i += 1
        body = []
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        i += 1
        named = re.fullmatch(r"# ([\w.-]+\.ya?ml)", body[0].strip()) if body else None
        if fence["lang"] == "yaml" and named:
            out.append(Block(path, start + 1, "\n".join(body) + "\n", None, writes=named[1]))
        if fence["lang"] != "bash":
            continue
        skip = setup = None
        mark = MARKER.match(lines[start - 1]) if start else None
        if mark:
            if mark["what"] not in ("skip", "setup") or not mark["why"]:
                raise ValueError(f"{path}:{start}: write <!-- docs-test: skip: <why> --> (a reason is required) "
                                 "or <!-- docs-test: setup: <command> -->")
            skip, setup = (mark["why"], None) if mark["what"] == "skip" else (None, mark["why"])
        out.append(Block(path, start + 1, "\n".join(body) + "\n", skip, setup))
    return out


WSVOL_SHIM = '''#!{python}
"""`wsvol` for the docs test: the real command, jobs on shrunk configs."""
import sys
sys.path[:0] = [{tests!r}, {tests_root!r}]
from shell_blocks import run_wsvol
sys.exit(run_wsvol(sys.argv[1:]))
'''
NETWORK_SHIM = '''#!{python}
"""`{tool}` for the docs test: the stand-in network of tests/docs/network.py."""
import sys
sys.path.insert(0, {tests!r})
from network import main
sys.exit(main({tool!r}, sys.argv[1:]))
'''
PYTHON_SHIM = '''#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then mkdir -p "$3/bin" && : > "$3/bin/activate"; exit 0; fi
exec {python} "$@"
'''
PIP_SHIM = '''#!/bin/sh
if [ "$1" = "install" ]; then echo "(docs test: wsvol is installed already; skipped pip $*)"; exit 0; fi
echo "docs test: only 'pip install' is stood in for" >&2; exit 1
'''


def prepare(folder: Path, server: Path, runs: Path | None = None) -> dict[str, str]:
    """A scratch folder like a clone (``configs/``, ``plugins/`` linked) with a user's files, and the
    environment of its shell; the stand-in network makes what it serves once under ``server``, and
    the ``wsvol run`` jobs to replay are kept under ``runs`` (none if not given)."""
    for name in ("configs", "plugins", "benchmarks"):
        (folder / name).symlink_to(ROOT / name)
    user_files(folder)
    bin_dir = folder / ".docs-test-bin"
    bin_dir.mkdir()
    tests = str(Path(__file__).parent)
    shims = {"wsvol": WSVOL_SHIM.format(python=sys.executable, tests=tests, tests_root=str(Path(tests).parent)),
             "python3.11": PYTHON_SHIM.format(python=sys.executable),
             "pip": PIP_SHIM}
    for tool in ("curl", "wget", "hf", "standin-weights"):
        shims[tool] = NETWORK_SHIM.format(python=sys.executable, tests=tests, tool=tool)
    for name, text in shims.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod((bin_dir / name).stat().st_mode | stat.S_IEXEC)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "WSVOL_WEIGHTS", "XDG_CACHE_HOME")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="", HOME=str(folder / "home"),
               WSVOL_WEIGHTS=str(folder / "weights"), DOCS_TEST_SERVER=str(server),
               DOCS_TEST_FETCHED=str(bin_dir / "fetched.log"), DOCS_TEST_PAGE=str(folder),
               DOCS_TEST_RUNS=str(runs or ""))
    (folder / "home").mkdir()
    return env


def user_files(folder: Path, frames: int = 50, size: tuple[int, int] = (160, 120)) -> None:
    """``clip.mp4`` and ``frames_folder/``: a bright square moving over a dark ground, 25 frames/s."""
    import cv2
    import numpy as np

    from wsvol.visualization.mp4 import Mp4Writer

    (folder / "frames_folder").mkdir()
    w, h = size
    with Mp4Writer(folder / "clip.mp4", fps=25) as video:
        for i in range(frames):
            img = np.full((h, w, 3), 30, np.uint8)
            x = (3 * i) % (w // 2)
            img[h // 4 : h // 4 + h // 3, x : x + w // 3] = (220, 180, 60)
            video.write(img)
            cv2.imwrite(str(folder / "frames_folder" / f"frame_{i:04d}.jpg"), img[:, :, ::-1])


# -- shrinking -----------------------------------------------------------------------------------
JOBS = {"run", "train", "test", "visualize", "pseudo-labels"}


def shrink_options(config: str) -> list[str]:
    """``--cfg-options`` that make a config's job cheap (the data is what the page made: YouTube-Objects
    stand-ins are small; synthetic configs get the ``tiny`` size)."""
    from wsvol.config import load_config

    cfg = load_config(config)
    opts = ["synthetic.size=tiny"] if cfg.get("synthetic") else []
    for split in ("train", "val", "test"):
        if cfg.get(f"{split}_dataloader"):
            opts.append(f"{split}_dataloader.num_workers=0")
    if cfg.get("train_dataloader"):
        opts += ["train_dataloader.persistent_workers=false", "train_dataloader.batch_size=8"]
    for split in ("val", "test"):
        if (cfg.get(f"{split}_dataloader") or {}).get("batch_size", 0) > 16:
            opts.append(f"{split}_dataloader.batch_size=16")
    if cfg.get("train_cfg"):
        opts += ["train_cfg.max_epochs=1", "train_cfg.val_interval=1"]
    if cfg.get("pseudo_labels"):
        opts.append("pseudo_labels.num_workers=0")
    opts += ["report.overlays=2", "report.n_boot=50"]
    # tests/ is on the path of pytest and of the wsvol shim
    from config_options import narrow_resnet_options, options_as_config

    model = cfg.get("model") or {}
    backbone = model.get("backbone")
    if cfg.get("synthetic") and isinstance(backbone, str) and backbone.startswith("resnet"):
        opts += narrow_resnet_options()  # a ResNet trained from scratch on the synthetic data
    elif cfg.get("synthetic") and isinstance(backbone, dict) and str(backbone.get("arch")).startswith("resnet"):
        opts += narrow_resnet_options("model.backbone")  # TCAM's encoder: its (narrowed) baseline's
    baseline = (cfg.get("baseline") or {}).get("config")
    if baseline:  # the baseline stage reads its own config: a shrunk child of it
        child = Path(".docs-test-bin") / f"shrunk_{Path(baseline).stem}.yaml"
        child.write_text(options_as_config(shrink_options(baseline), base=baseline))
        opts.append(f"baseline.config={child.resolve()}")
    return opts


def shrunk_argv(argv: list[str]) -> list[str]:
    """``wsvol`` arguments with the shrinking options in front of the command's own ``--cfg-options``,
    without ``--amp`` where torch sees no CUDA device."""
    if not argv or argv[0] not in JOBS:
        return argv
    if "--amp" in argv:
        import torch

        if not torch.cuda.is_available():
            print("(docs test: no CUDA device here; ran without --amp)", file=sys.stderr)
            argv = [a for a in argv if a != "--amp"]
    config = next((a for a in argv[1:] if not a.startswith("-")), None)
    extra = shrink_options(config) if config and config.endswith((".yaml", ".yml")) else []
    if not extra:
        return argv
    if "--cfg-options" in argv:
        at = argv.index("--cfg-options") + 1
        return [*argv[:at], *extra, *argv[at:]]
    return [*argv, "--cfg-options", *extra]


# -- replaying a run ------------------------------------------------------------------------------
def run_wsvol(argv: list[str]) -> int:
    """The shim's ``wsvol``: the real command on a shrunk config, or the replay of a ``wsvol run``
    that this session already made with the same arguments from the same folder of its page."""
    from wsvol.cli.main import main

    runs = os.environ.get("DOCS_TEST_RUNS")
    if not runs or argv[:1] != ["run"] or any(a.startswith(("--work-dir", "--resume")) for a in argv):
        return main(shrunk_argv(argv))
    page = Path(os.environ["DOCS_TEST_PAGE"])
    key = json.dumps([os.path.relpath(os.getcwd(), page), argv])
    memo = Path(runs) / hashlib.sha256(key.encode()).hexdigest()[:16]
    if not (memo / "made.json").exists():
        before = _files(page)
        out = subprocess.run([sys.executable, sys.argv[0], *argv], capture_output=True, text=True,
                             env={**os.environ, "DOCS_TEST_RUNS": ""})
        sys.stdout.write(out.stdout)
        sys.stderr.write(out.stderr)
        if out.returncode == 0:
            made = [rel for rel, st in _files(page).items() if before.get(rel) != st]
            for rel in made:
                (memo / "files" / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(page / rel, memo / "files" / rel)
            (memo / "made.json").write_text(json.dumps({"page": str(page), "files": made, "stdout": out.stdout,
                                                        "stderr": out.stderr}))
        return out.returncode
    shrunk_argv(argv)  # what the shrinking writes into the page's own shim folder (a shrunk baseline config)
    made = json.loads((memo / "made.json").read_text())
    for rel in made["files"]:
        src, dst = memo / "files" / rel, page / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        data = src.read_bytes()
        if b"\0" not in data[:8192] and made["page"].encode() in data:  # a text file naming the first page's folder
            dst.write_bytes(data.replace(made["page"].encode(), str(page).encode()))
            shutil.copystat(src, dst)
        else:
            shutil.copy2(src, dst)
    print(f"(docs test: replayed `wsvol {' '.join(argv)}` as {made['page']} ran it: {len(made['files'])} files)",
          file=sys.stderr)
    sys.stdout.write(made["stdout"])
    sys.stderr.write(made["stderr"])
    return 0


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file under a page's folder, but its shims and the linked repository folders."""
    out = {}
    for top, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d != ".docs-test-bin" and not os.path.islink(os.path.join(top, d))]
        for name in names:
            path = os.path.join(top, name)
            if not os.path.islink(path):
                st = os.stat(path)
                out[os.path.relpath(path, folder)] = (st.st_size, st.st_mtime_ns)
    return out
