"""The shell blocks of README.md and docs/ run as written, shrunk, on stand-ins for what cannot be
had here (see shell_blocks.py for the marker convention and the shell they run in, network.py for
the stand-in downloads); docs/weights.md names every catalogued file and its commands fetch them."""

from __future__ import annotations

import re
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from config_options import NARROW_RESNET
from network import V1_FOLDS_ZIP, V1_URL
from shell_blocks import DOCS, ROOT, Block, blocks, prepare, run_wsvol, shrunk_argv

from wsvol.weights import WEIGHTS

ALL = {path: blocks(path) for path in DOCS}
RUNNABLE = [path for path, found in ALL.items() if any(b.skip is None and b.writes is None for b in found)]
WEIGHTS_DOC = ROOT / "docs" / "weights.md"


def test_every_bash_block_runs_or_says_why_not():
    found = [b for bs in ALL.values() for b in bs if b.writes is None]
    assert len(found) > 10
    for block in found:
        assert block.skip is None or len(block.skip) > 10, f"{block.where}: say why the block is not run"
    assert any(b.path.name == "README.md" and b.skip is None for b in found)  # the quick start runs
    skipped = [b.where for b in found if b.skip is not None]
    assert len(skipped) <= len(found) // 3, f"skips are for what cannot run here: {skipped}"


def test_markers(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("<!-- docs-test: setup: wsvol --help -->\n```bash\nwsvol data --help\n```\n"
                    "<!-- docs-test: skip: needs several machines -->\n```bash\ntorchrun x\n```\n```text\nno\n```\n")
    first, second = blocks(page)
    assert (first.line, first.setup, first.skip, first.code) == (2, "wsvol --help", None, "wsvol data --help\n")
    assert (second.skip, second.setup) == ("needs several machines", None)
    for bad, message in (("<!-- docs-test: skip -->\n```bash\nx\n```\n", "a reason is required"),
                         ("<!-- docs-test: skip: why -->\n\n```bash\nx\n```\n", "right before a ``` fence"),
                         ("<!-- docs-test skip: why -->\n```bash\nx\n```\n", "malformed marker")):
        page.write_text(bad)
        with pytest.raises(ValueError, match=message):
            blocks(page)


def test_shrinking_keeps_the_commands_own_options(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".docs-test-bin").mkdir()
    cfg = str(ROOT / "configs" / "trcamv_synthetic.yaml")
    argv = shrunk_argv(["run", cfg, "--cfg-options", "train_cfg.max_epochs=2"])
    assert argv[:3] == ["run", cfg, "--cfg-options"] and argv[-1] == "train_cfg.max_epochs=2"  # theirs last: theirs win
    assert "synthetic.size=tiny" in argv and "train_cfg.max_epochs=1" in argv
    baseline = next(a for a in argv if a.startswith("baseline.config="))
    child = yaml.safe_load((tmp_path / ".docs-test-bin" / "shrunk_layercam_synthetic.yaml").read_text())
    assert child["_base_"].endswith("layercam_synthetic.yaml") and baseline.endswith("shrunk_layercam_synthetic.yaml")
    assert child["model"]["backbone_kwargs"] == NARROW_RESNET  # the baseline's ResNet-18, trained from scratch
    assert not any(a.startswith("model.backbone") for a in argv)  # TrCAM-V's own backbone is left alone
    yto = str(ROOT / "configs" / "trcamv_ytov1.yaml")
    argv = shrunk_argv(["run", yto, "--amp"])  # the tests see no CUDA device (tests/conftest.py skips 'cuda' ones)
    assert argv[:3] == ["run", yto, "--cfg-options"] and "--amp" not in argv
    assert {"train_cfg.max_epochs=1", "train_dataloader.num_workers=0", "val_dataloader.batch_size=16"} <= set(argv)
    assert not any(a.startswith(("synthetic.", "model.")) for a in argv)  # official weights: widths stay
    assert shrunk_argv(["config", "check", cfg]) == ["config", "check", cfg]
    assert shrunk_argv(["data", "check", yto]) == ["data", "check", yto]


# -- running the pages ----------------------------------------------------------------------------
@dataclass
class Page:
    """What running a page's blocks left: its scratch folder and each block's output."""

    folder: Path
    outputs: dict[str, subprocess.CompletedProcess] = field(default_factory=dict)  # by block.where
    fetched: list[str] = field(default_factory=list)  # the stand-in network's log


@pytest.fixture(scope="session")
def ran(tmp_path_factory):
    """``ran(path)``: the page's blocks run once per session (the page's test and the checks of
    what it made share the run)."""
    server, runs = tmp_path_factory.mktemp("docs-test-server"), tmp_path_factory.mktemp("docs-test-runs")
    done: dict[Path, Page] = {}

    def run(path: Path) -> Page:
        if path not in done:
            text = path.read_text(encoding="utf-8")
            if V1_URL.search(text) and not V1_FOLDS_ZIP.is_file():
                pytest.skip(f"{path.name}: the stand-in v1.0 release is made from the real fold files, "
                            f"not here: {V1_FOLDS_ZIP} (set WSVOL_SHARED_DATA)")
            page = Page(tmp_path_factory.mktemp(path.stem))
            env = prepare(page.folder, server, runs)
            log = Path(env["DOCS_TEST_FETCHED"])
            for block in ALL[path]:
                if block.skip is None:
                    run_block(block, page, env, log)
            done[path] = page
        return done[path]

    return run


def run_block(block: Block, page: Page, env: dict[str, str], log: Path) -> None:
    """Run one block (after its setup) in the page's shell session (the variables and folder the
    blocks before left); it must exit 0 and every fetch be served. A block that is a file the page
    has you write is written."""
    state, cwd = page.folder / ".docs-test-bin" / "session.sh", page.folder / ".docs-test-bin" / "cwd"
    if block.writes:  # where the reader is
        (Path(cwd.read_text().strip()) if cwd.exists() else page.folder).joinpath(block.writes).write_text(block.code)
        return
    before = len(page.fetched)
    resume = f'. "{state}" 2>/dev/null; cd "$(cat "{cwd}")"\n' if state.exists() else ""
    keep = (f'{{ export -p; for _docs_test_v in $(compgen -v); do case "$_docs_test_base" in *" $_docs_test_v "*) ;; '
            f'*) declare -p "$_docs_test_v";; esac; done; }} > "{state}" 2>/dev/null; pwd > "{cwd}"\n')
    script = ('_docs_test_base=" $(compgen -v | tr \'\\n\' \' \') _docs_test_v _docs_test_base "\n' + resume + "set -euo pipefail\n"
              + (f"{block.setup}\n" if block.setup else "") + block.code + "\n" + keep)
    wall, cpu = time.perf_counter(), _children_cpu()
    out = subprocess.run(["bash", "-c", script], cwd=page.folder, env=env, capture_output=True, text=True,
                         timeout=1800)
    print(f"{block.where}: {time.perf_counter() - wall:.1f} s wall, {_children_cpu() - cpu:.1f} s CPU")  # shown with -s
    page.outputs[block.where] = out
    page.fetched = log.read_text().splitlines() if log.exists() else []
    refused = [line for line in page.fetched[before:] if line.startswith("refused ")]
    what = f"{block.where}:\n{block.setup or ''}\n{block.code}\n--- output ---\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    assert out.returncode == 0, f"failed: {what}"
    assert not refused, f"a download the docs test does not stand in for ({refused}): {what}"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@pytest.mark.slow
@pytest.mark.parametrize("path", RUNNABLE, ids=[p.name for p in RUNNABLE])
def test_the_blocks_of_a_page_run(path, ran):
    ran(path)


def test_a_page_is_one_shell_session(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```bash\nmkdir -p sub && cd sub\nX='a b'; export Y=2\n```\n"
                    "```yaml\n# mine.yaml\nkey: 1\n```\n"
                    "<!-- docs-test: setup: test -f mine.yaml -->\n```bash\ncd ..\n```\n"
                    "```bash\ntest \"$X$Y\" = 'a b2' && test -f sub/mine.yaml && touch done\n```\n")
    folder = tmp_path / "run"
    folder.mkdir()
    env = prepare(folder, tmp_path / "server")
    state = Page(folder)
    for block in blocks(page):
        run_block(block, state, env, Path(env["DOCS_TEST_FETCHED"]))
    assert (folder / "done").exists() and (folder / "sub" / "mine.yaml").read_text() == "# mine.yaml\nkey: 1\n"
    page.write_text("```bash\nfor c in a b; do wget -nc https://example.org/$c.tar.gz && tar -xf $c.tar.gz; done\n```\n")
    with pytest.raises(AssertionError, match="a download the docs test does not stand in for"):
        run_block(blocks(page)[0], state, env, Path(env["DOCS_TEST_FETCHED"]))  # the loop hides wget's failure


def test_a_run_made_by_another_page_is_replayed(tmp_path, monkeypatch, capsys):
    job = tmp_path / "job.py"  # stands in for the shim's own `wsvol`: writes into the folder it runs in
    job.write_text("import os, sys\nfrom pathlib import Path\n"
                   "with open(os.environ['JOB_COUNT'], 'a') as f: f.write('x')\n"
                   "out = Path('work_dirs/t/1'); out.mkdir(parents=True)\n"
                   "(out / 'config.yaml').write_text(f'root: {os.getcwd()}/data\\n')\n"
                   "(out / 'model.bin').write_bytes(bytes(range(256)))\n"
                   "print('trained', sys.argv[1:])\n")
    monkeypatch.setattr(sys, "argv", [str(job)])
    monkeypatch.setenv("JOB_COUNT", str(tmp_path / "count"))
    monkeypatch.setenv("DOCS_TEST_RUNS", str(tmp_path / "runs"))
    pages = [tmp_path / "first", tmp_path / "second"]
    for page in pages:
        (page / ".docs-test-bin").mkdir(parents=True)
        (page / "data").mkdir()
        monkeypatch.setenv("DOCS_TEST_PAGE", str(page))
        monkeypatch.chdir(page)
        assert run_wsvol(["run", "job"]) == 0
        assert "trained ['run', 'job']" in capsys.readouterr().out
        assert (page / "work_dirs/t/1/config.yaml").read_text() == f"root: {page}/data\n"
        assert (page / "work_dirs/t/1/model.bin").read_bytes() == bytes(range(256))
    assert (tmp_path / "count").read_text() == "x"  # ran once, replayed once
    (pages[1] / "sub").mkdir()
    monkeypatch.chdir(pages[1] / "sub")  # from another folder it is another run
    assert run_wsvol(["run", "job"]) == 0 and (tmp_path / "count").read_text() == "xx"


# -- docs/weights.md ------------------------------------------------------------------------------
def fetches() -> list[tuple[str, str, str]]:
    """(comment above, target, URL) of every ``curl`` line of docs/weights.md."""
    out = []
    for block in ALL[WEIGHTS_DOC]:
        lines = block.code.splitlines()
        for i, line in enumerate(lines):
            m = re.match(r'curl -L -o "\$WSVOL_WEIGHTS/([^"]+)" (https://\S+)$', line)
            if m:
                out.append((lines[i - 1] if i else "", m[1], m[2]))
    return out


def test_the_weights_page_names_every_catalogued_file_and_where_to_get_it():
    text = WEIGHTS_DOC.read_text(encoding="utf-8")
    for wf in WEIGHTS.values():
        assert f"`{wf.name}`" in text and f"`{wf.filename}`" in text, wf.name
        for also in wf.also:
            assert f"`{also}`" in text or f"…/{Path(also).name}" in text, also
        for url in re.findall(r"https://[^\s)`]+", wf.source):
            assert url in text, url
    targets = {target: url for _, target, url in fetches()}
    for name in ("clip_vit_b16_openai", "dino_vits16", "deit_s16_in1k", "dinov2_vits14", "resnet50_in1k"):
        wf = WEIGHTS[name]
        assert targets[wf.filename] in wf.source, name  # each download is the catalogue's own URL


@pytest.mark.slow
def test_the_weights_page_fetches_and_checks_the_published_files(ran):
    page = ran(WEIGHTS_DOC)
    weights = page.folder / "home" / "wsvol-weights"  # the page's WSVOL_WEIGHTS="$HOME/wsvol-weights"
    served = [f for f in page.fetched if f.startswith("served ")]
    assert len([f for f in served if not f.startswith("served hf ")]) == len(fetches()) == 5
    assert len([f for f in served if f.startswith("served hf ")]) == 3
    for wf in WEIGHTS.values():
        if wf.name in ("dino_vitb16", "deit_b16_in1k"):
            continue  # only in the table
        assert (weights / wf.filename).exists(), wf.filename
    for comment, target, _ in fetches():  # the sizes the page gives are those of the published layouts
        size = int(re.search(r"(\d+) MiB", comment)[1])
        assert abs((weights / target).stat().st_size / 2**20 - size) < 1, (target, size)

    stdout = "".join(out.stdout for out in page.outputs.values())
    assert f"Weights folder: {weights}" in stdout
    assert f"found {weights}/dinov2_vits14_pretrain.pth (weights folder)" in " ".join(stdout.split())
    checks = [ln for ln in stdout.splitlines() if re.match(r"(ok|FAIL|skipped|missing) ", ln)]
    assert not [ln for ln in checks if ln.startswith(("FAIL", "missing"))], "\n".join(checks)
    for name in ("clip_vit_b16_openai", "dino_vits16", "deit_s16_in1k", "dinov2_vits14", "resnet50_in1k"):
        assert any(ln.startswith(f"ok       {name}: {weights}/") for ln in checks), name
    assert any(ln.startswith("ok       clip_vit_b16_openai:") and "(openai_clip: OpenAI CLIP, 302 tensors) "
               "loads into pseudo_label_source clip_es" in ln for ln in checks)
    for cfg, key, name in (("configs/trcamv_ytov1.yaml", "model.backbone.pretrained", "dino_deitsmall16_pretrain"),
                           ("configs/trcamv_ytov1.yaml", "pseudo_labels.source.pretrained", "ViT-B-16"),
                           ("my_dinov2.yaml", "model.backbone.pretrained", "dinov2_vits14_pretrain")):
        assert any(ln.startswith(f"ok       {cfg}: {key}: {weights}/{name}") for ln in checks), (cfg, key)
    assert any("dinov2_vits14_pretrain.pth (dinov2: DINOv2 ViT, 174 tensors) loads into backbone timm_vit "
               "(arch: vit_small_patch14_dinov2, img_size: 224)" in ln for ln in checks)
