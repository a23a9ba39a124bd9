"""The ```bash blocks of README.md and docs/*.md, and the shell they run in for the docs test.

Marker convention (an HTML comment on the line right before the fence, invisible when rendered):

    <!-- docs-test: skip: <why> -->     the block is not run; the reason is required
                                       (YouTube-Objects data or weights, a GPU, several
                                       machines, a long benchmark, the whole test suite)

Every other ```bash block is run, in the order of its file, in one scratch folder per file that
holds links to the repository's ``configs/`` and ``plugins/``, with ``set -euo pipefail``, and must
exit 0. The commands are run as written; what makes them cheap is the shell they run in:

- ``wsvol``: the real command, with jobs (run, train, test, visualize, pseudo-labels) on a
  synthetic config shrunk by extra ``--cfg-options`` before the block's own: the ``tiny``
  synthetic data at the config's own path, one epoch, no loader workers, a small bootstrap; a
  ``baseline`` config is shrunk the same way;
- ``python3.11 -m venv DIR`` makes an empty ``DIR/bin/activate`` and ``pip install`` does
  nothing (wsvol is already installed where the test runs); every other ``python3.11`` call is
  this Python.
"""

from __future__ import annotations

import os
import re
import stat
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

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The ```bash blocks of a Markdown file, with their markers; a malformed marker raises."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            mark = MARKER.match(lines[i])
            if mark and not (i + 1 < len(lines) and FENCE.match(lines[i + 1])):
                raise ValueError(f"{path}:{i + 1}: a docs-test marker must be right before a ``` fence")
            if "docs-test" in lines[i] and not mark:
                raise ValueError(f"{path}:{i + 1}: malformed marker; write <!-- docs-test: skip: <why> -->")
            i += 1
            continue
        start, indent = i, len(fence["indent"])
        i += 1
        body = []
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        i += 1
        if fence["lang"] != "bash":
            continue
        skip = None
        mark = MARKER.match(lines[start - 1]) if start else None
        if mark:
            if mark["what"] != "skip" or not mark["why"]:
                raise ValueError(f"{path}:{start}: write <!-- docs-test: skip: <why> --> (a reason is required)")
            skip = mark["why"]
        out.append(Block(path, start + 1, "\n".join(body) + "\n", skip))
    return out


WSVOL_SHIM = '''#!{python}
"""`wsvol` for the docs test: the real command, jobs on synthetic configs shrunk."""
import sys
sys.path.insert(0, {tests!r})
from shell_blocks import shrunk_argv
from wsvol.cli.main import main
sys.exit(main(shrunk_argv(sys.argv[1:])))
'''
PYTHON_SHIM = '''#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then mkdir -p "$3/bin" && : > "$3/bin/activate"; exit 0; fi
exec {python} "$@"
'''
PIP_SHIM = '''#!/bin/sh
if [ "$1" = "install" ]; then echo "(docs test: wsvol is installed already; skipped pip $*)"; exit 0; fi
echo "docs test: only 'pip install' is stood in for" >&2; exit 1
'''


def prepare(folder: Path) -> dict[str, str]:
    """A scratch folder like a clone (``configs/``, ``plugins/`` linked) and the environment of its shell."""
    for name in ("configs", "plugins", "benchmarks"):
        (folder / name).symlink_to(ROOT / name)
    bin_dir = folder / ".docs-test-bin"
    bin_dir.mkdir()
    shims = {"wsvol": WSVOL_SHIM.format(python=sys.executable, tests=str(Path(__file__).parent)),
             "python3.11": PYTHON_SHIM.format(python=sys.executable),
             "pip": PIP_SHIM}
    for name, text in shims.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod((bin_dir / name).stat().st_mode | stat.S_IEXEC)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "WSVOL_WEIGHTS")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="",
               WSVOL_WEIGHTS=str(folder / "weights"))
    return env


# -- shrinking -----------------------------------------------------------------------------------
JOBS = {"run", "train", "test", "visualize", "pseudo-labels"}


def shrink_options(config: str) -> list[str]:
    """``--cfg-options`` that make a synthetic config's job cheap; none for other configs."""
    from wsvol.config import load_config

    cfg = load_config(config)
    if not cfg.get("synthetic"):
        return []
    opts = ["synthetic.size=tiny"]
    for split in ("train", "val", "test"):
        if cfg.get(f"{split}_dataloader"):
            opts.append(f"{split}_dataloader.num_workers=0")
    if cfg.get("train_dataloader"):
        opts += ["train_dataloader.persistent_workers=false", "train_dataloader.batch_size=8"]
    if cfg.get("train_cfg"):
        opts += ["train_cfg.max_epochs=1", "train_cfg.val_interval=1"]
    if cfg.get("pseudo_labels"):
        opts.append("pseudo_labels.num_workers=0")
    opts += ["report.overlays=2", "report.n_boot=50"]
    baseline = (cfg.get("baseline") or {}).get("config")
    if baseline:  # the baseline stage reads its own config: a shrunk child of it
        child = Path(".docs-test-bin") / f"shrunk_{Path(baseline).stem}.yaml"
        child.write_text(_as_yaml(shrink_options(baseline), base=baseline))
        opts.append(f"baseline.config={child.resolve()}")
    return opts


def _as_yaml(options: list[str], base: str) -> str:
    """A config inheriting ``base`` that sets ``key.sub=value`` options (values are YAML), each key once."""
    import yaml

    tree: dict = {"_base_": base}
    for option in options:
        key, value = option.split("=", 1)
        *parents, last = key.split(".")
        node = tree
        for parent in parents:
            node = node.setdefault(parent, {})
        node[last] = yaml.safe_load(value)
    return yaml.safe_dump(tree, sort_keys=False)


def shrunk_argv(argv: list[str]) -> list[str]:
    """``wsvol`` arguments with the shrinking options in front of the command's own ``--cfg-options``."""
    if not argv or argv[0] not in JOBS:
        return argv
    config = next((a for a in argv[1:] if not a.startswith("-")), None)
    extra = shrink_options(config) if config and config.endswith((".yaml", ".yml")) else []
    if not extra:
        return argv
    if "--cfg-options" in argv:
        at = argv.index("--cfg-options") + 1
        return [*argv[:at], *extra, *argv[at:]]
    return [*argv, "--cfg-options", *extra]
