"""docs/weights.md stays true: it names every catalogued file and source, and its commands run,
as written, on random-init stand-ins in the published layouts served by stand-in ``curl``/``hf``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from wsvol.weights import WEIGHTS

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "weights.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def fetches() -> list[tuple[str, str, str]]:
    """(comment above, target, URL) of every ``curl`` line of the doc."""
    out = []
    for block in blocks("bash"):
        lines = block.splitlines()
        for i, line in enumerate(lines):
            m = re.match(r'curl -L -o "\$WSVOL_WEIGHTS/([^"]+)" (https://\S+)$', line)
            if m:
                out.append((lines[i - 1] if i else "", m[1], m[2]))
    return out


def test_the_doc_names_every_catalogued_file_and_where_to_get_it():
    text = DOC.read_text(encoding="utf-8")
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


# The stand-in network tools copy files written beforehand by the test, named after the URL or repository.
CURL = """#!/bin/bash
out=""; url=""
while [ $# -gt 0 ]; do case "$1" in -o|--output) out="$2"; shift 2;; -*) shift;; *) url="$1"; shift;; esac; done
src="{server}/$(printf %s "$url" | tr '/:' '__')"
[ -f "$src" ] || {{ echo "curl: (22) The requested URL returned error: 404" >&2; exit 22; }}
cp "$src" "${{out:-$(basename "$url")}}"
echo "curl $url" >> "{log}"
"""
HF = """#!/bin/bash
[ "$1" = download ] || exit 2; shift
repo="$1"; shift; files=(); dir=""
while [ $# -gt 0 ]; do case "$1" in --local-dir) dir="$2"; shift 2;; *) files+=("$1"); shift;; esac; done
src="{server}/$(printf %s "$repo" | tr '/' '_')"
[ -d "$src" ] || {{ echo "404 Client Error: $repo" >&2; exit 1; }}
mkdir -p "$dir"
if [ ${{#files[@]}} -eq 0 ]; then cp -r "$src/." "$dir/"; else
  for f in "${{files[@]}}"; do [ -f "$src/$f" ] || {{ echo "404: $repo/$f" >&2; exit 1; }}; cp "$src/$f" "$dir/$f"; done
fi
echo "hf $repo ${{files[*]}}" >> "{log}"
"""


def serve(server: Path) -> None:
    """Write every file the doc downloads, at full size in its published layout (CLIPSeg and the
    open_clip hub copy of CLIP small: their layout is what the doc's commands must place)."""
    from safetensors.torch import save_file
    from standins import (
        TINY_CLIP,
        dinov2_layout,
        random_state,
        write_clipseg_folder,
        write_deit,
        write_dino,
        write_dinov2,
        write_open_clip_state_dict,
        write_openai_clip_torchscript,
        write_resnet50,
    )

    def url(name: str) -> Path:
        (wf,) = [wf for wf in WEIGHTS.values() if wf.filename == name]
        (address,) = [u for u in re.findall(r"https://[^\s)`]+", wf.source) if u.endswith("/" + name)]
        return server / address.replace("/", "_").replace(":", "_")

    write_openai_clip_torchscript(url("ViT-B-16.pt"))
    write_dino(url("dino_deitsmall16_pretrain.pth"))
    write_deit(url("deit_small_patch16_224-cd65a155.pth"))
    write_dinov2(url("dinov2_vits14_pretrain.pth"))
    write_resnet50(url("resnet50-0676ba61.pth"))
    write_clipseg_folder(server / "CIDAS_clipseg-rd64-refined", layout="bin")  # the 2022 upload's form
    (server / "timm_vit_base_patch16_clip_224.openai").mkdir()
    write_open_clip_state_dict(server / "timm_vit_base_patch16_clip_224.openai" / "open_clip_model.safetensors", TINY_CLIP)
    (server / "timm_vit_small_patch14_dinov2.lvd142m").mkdir()
    state = random_state(dinov2_layout())
    del state["mask_token"]  # timm's copy
    save_file(state, str(server / "timm_vit_small_patch14_dinov2.lvd142m" / "model.safetensors"))


@pytest.mark.slow
def test_the_docs_commands_run_on_stand_ins(tmp_path):
    bin_dir, home, work, server = (tmp_path / d for d in ("bin", "home", "work", "server"))
    for d in (bin_dir, home, work, server):
        d.mkdir()
    serve(server)
    log = tmp_path / "fetched.log"
    for name, text in (("curl", CURL), ("hf", HF)):
        (bin_dir / name).write_text(text.format(server=server, log=log))
        (bin_dir / name).chmod(0o755)
    (work / "configs").symlink_to(ROOT / "configs")
    for block in blocks("yaml"):  # "# my_dinov2.yaml" on the first line: the file the doc has you write
        first = block.splitlines()[0]
        if re.fullmatch(r"# [\w.-]+\.yaml", first):
            (work / first[2:]).write_text(block)
    env = {k: v for k, v in os.environ.items() if k not in ("WSVOL_WEIGHTS", "XDG_CACHE_HOME")}
    env.update(HOME=str(home), COLUMNS="80", OMP_NUM_THREADS="1",
               PATH=os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), env.get("PATH", "")]),
               PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    script = "set -euo pipefail\n" + "\n".join(blocks("bash"))
    out = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    weights = home / "wsvol-weights"

    # every download of the doc was served, and lies where the catalogue looks for it
    fetched = log.read_text().splitlines()
    assert len([f for f in fetched if f.startswith("curl ")]) == len(fetches()) == 5
    assert len([f for f in fetched if f.startswith("hf ")]) == 3
    for wf in WEIGHTS.values():
        if wf.name in ("dino_vitb16", "deit_b16_in1k"):
            continue  # only in the table
        assert (weights / wf.filename).exists(), wf.filename
    # the sizes the doc gives are those of files in the published layouts
    for comment, target, _ in fetches():
        size = int(re.search(r"(\d+) MiB", comment)[1])
        assert abs((weights / target).stat().st_size / 2**20 - size) < 1, (target, size)

    stdout = out.stdout
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
