"""``wsvol weights list`` (readable at 80 columns) and ``wsvol weights check`` on stand-in files."""

from __future__ import annotations

import torch
from standins import Payload, random_state, vit_layout, write_clipseg_folder, write_dinov2

from wsvol.cli.main import main


def wsvol(capsys, monkeypatch, *args, folder, columns=80) -> tuple[int, str, str]:
    monkeypatch.setenv("WSVOL_WEIGHTS", str(folder))
    monkeypatch.setenv("COLUMNS", str(columns))
    code = main(["weights", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_fits_80_columns_and_says_what_was_found(tmp_path, capsys, monkeypatch):
    (tmp_path / "vit_small_patch14_dinov2.lvd142m").mkdir()
    (tmp_path / "vit_small_patch14_dinov2.lvd142m" / "model.safetensors").write_bytes(b"x")
    code, out, err = wsvol(capsys, monkeypatch, "list", folder=tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"Weights folder: {tmp_path}"
    # only a lone URL or path after a label may overflow (the first line: checked above)
    too_long = [ln for ln in lines[1:] if len(ln) > 80 and (not ln.startswith("  ") or len(ln[11:].split()) > 1)]
    assert not too_long, too_long
    block = out.split("\ndinov2_vits14: DINOv2 ViT-S/14 (Oquab et al.)\n")[1].split("\n\n")[0]
    found = f"{tmp_path}/vit_small_patch14_dinov2.lvd142m/model.safetensors"
    assert " ".join(block.split()).startswith(f"found {found} (weights folder) file dinov2_vits14_pretrain.pth")
    assert "  format   dinov2: torch file, plain state dict with mask_token" in block
    assert "https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_pretrain.pth" in block
    assert "  used by  backbone timm_vit (arch: vit_small_patch14_dinov2)" in block
    assert "\nclip_vit_b16_openai: OpenAI CLIP ViT-B/16 (QuickGELU)\n  found    no\n" in out


def test_check_loads_good_files_and_names_bad_ones(tmp_path, capsys, monkeypatch):
    write_dinov2(tmp_path / "dinov2_vits14_pretrain.pth")
    marker = tmp_path / "pwned"
    torch.save({"model": random_state(vit_layout(depth=1)), "args": Payload(marker)},
               tmp_path / "deit_small_patch16_224-cd65a155.pth")
    write_clipseg_folder(tmp_path / "clipseg-rd64-refined")
    code, out, _ = wsvol(capsys, monkeypatch, "check", folder=tmp_path)
    assert code == 1
    lines = {ln.split(":")[0].split()[-1]: ln for ln in out.splitlines() if ln[:1].strip()}
    assert set(lines) == {"dinov2_vits14", "deit_s16_in1k", "clipseg_rd64_refined"}, out
    clipseg = lines["clipseg_rd64_refined"]  # loaded where the wsvol-clipseg plugin is installed
    assert clipseg.startswith("ok       ") or clipseg.startswith("skipped  ") and clipseg.endswith(
        "(clipseg: CLIPSeg, 158 tensors): read, but not loaded: no installed component uses it (a plugin's?)")
    lines = {k: v for k, v in lines.items() if k != "clipseg_rd64_refined"}
    lines = {v.split(":")[0]: v for v in lines.values()}
    assert lines["ok       dinov2_vits14"].endswith(
        "(dinov2: DINOv2 ViT, 174 tensors) loads into backbone timm_vit (arch: vit_small_patch14_dinov2)")
    assert "refused, it cannot be loaded with weights_only=True" in lines["FAIL     deit_s16_in1k"]
    assert not marker.exists()
    code, out, _ = wsvol(capsys, monkeypatch, "check", "dino_vits16", folder=tmp_path)
    assert code == 1 and out.startswith(f"missing  dino_vits16: put dino_deitsmall16_pretrain.pth in {tmp_path}")
    code, _, err = wsvol(capsys, monkeypatch, "check", "zzz", folder=tmp_path)
    assert code == 1 and err.startswith("wsvol: error: unknown weights name(s) zzz; known: ")
    code, _, err = wsvol(capsys, monkeypatch, "check", "dino_vit16", folder=tmp_path)
    assert code == 1 and err.startswith(
        "wsvol: error: unknown weights name(s) dino_vit16; did you mean 'dino_vits16'?; known: ")


def test_check_without_weights_says_where_it_looked(tmp_path, capsys, monkeypatch):
    for folder, where in ((tmp_path, ""), (tmp_path / "absent", ", which does not exist")):
        code, out, err = wsvol(capsys, monkeypatch, "check", folder=folder)
        assert code == 0, err  # nothing was checked, so nothing failed
        assert out.startswith(f"no weights files found in {folder}{where} (the weights folder: $WSVOL_WEIGHTS, ")
        assert out.count("\n") == 1 and "`wsvol weights list`" in out
    write_dinov2(tmp_path / "dinov2_vits14_pretrain.pth")
    code, out, _ = wsvol(capsys, monkeypatch, "check", folder=tmp_path)
    assert code == 0 and "no weights files found" not in out and out.startswith("ok       dinov2_vits14: ")


def test_check_a_configs_weights_in_their_components(tmp_path, capsys, monkeypatch):
    write_dinov2(tmp_path / "dinov2_vits14_pretrain.pth")
    cfg = tmp_path / "mine.yaml"
    cfg.write_text("model:\n  type: trcamv\n  backbone: {type: timm_vit, arch: vit_small_patch14_dinov2, "
                   "img_size: 224, pretrained: dinov2_vits14, num_last_blocks: 1}\n")
    code, out, _ = wsvol(capsys, monkeypatch, "check", str(cfg), folder=tmp_path)
    assert code == 0, out
    assert out == (f"ok       {cfg}: model.backbone.pretrained: {tmp_path}/dinov2_vits14_pretrain.pth (dinov2: "
                   "DINOv2 ViT, 174 tensors) loads into backbone timm_vit (arch: vit_small_patch14_dinov2, "
                   "img_size: 224)\n")
    cfg.write_text("pseudo_labels:\n  source: {type: clip_es, pretrained: clip_vit_b16_openai}\n")
    code, out, _ = wsvol(capsys, monkeypatch, "check", str(cfg), folder=tmp_path)
    assert code == 1 and out.startswith(f"FAIL     {cfg}: weights 'clip_vit_b16_openai' (config key "
                                        "pseudo_labels.source.pretrained) not found: put ViT-B-16.pt or ")
