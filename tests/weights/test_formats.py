"""Each published layout through ``read_weights``: the format recognised, the state dict in the
target library's keys, and nothing but tensors ever unpickled."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file
from standins import (
    TINY_CLIP,
    TINY_CLIPSEG,
    Payload,
    build_openai_layout_clip,
    clipseg_layout,
    deit_layout,
    dino_layout,
    dinov2_layout,
    random_state,
    write_clipseg_folder,
    write_deit,
    write_dino,
    write_dinov2,
    write_open_clip_state_dict,
)

from wsvol.weights import CLIP_FORMATS, WeightsError, read_weights

DINO, DEIT, DINOV2 = "dino_deitsmall16_pretrain.pth", "deit_small_patch16_224-cd65a155.pth", "dinov2_vits14_pretrain.pth"


def shapes(state) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in state.items()}


def assert_same(got, expected) -> None:
    assert set(got) == set(expected)
    for k, v in expected.items():
        assert got[k].dtype == v.dtype and torch.equal(got[k], v), k


def test_transcribed_vit_layouts_are_timms_keys():
    import timm

    assert shapes(timm.create_model("vit_small_patch16_224", num_classes=0).state_dict()) == dino_layout()
    assert shapes(timm.create_model("deit_small_patch16_224").state_dict()) == deit_layout()
    layout = dinov2_layout()
    assert layout["pos_embed"] == (1, 1370, 384) and layout["mask_token"] == (1, 384)
    del layout["mask_token"]
    assert shapes(timm.create_model("vit_small_patch14_dinov2", num_classes=0).state_dict()) == layout


def test_dino_file_and_training_checkpoint(tmp_path):
    written = write_dino(tmp_path / DINO)
    weights = read_weights(tmp_path / DINO)
    assert weights.format == "dino" and "head.weight" not in weights.state
    assert_same(weights.state, written)
    shutil.copy(tmp_path / DINO, tmp_path / "mine.pth")  # DINO's keys are timm's: by content, a state dict
    assert read_weights(tmp_path / "mine.pth").format == "state_dict"
    # DINO's *_full_checkpoint.pth as main_dino.py saves it: teacher and student ('module.backbone.'
    # keys, a projection head), the optimizer, the loss's centre, the fp16 scaler and the training
    # arguments, an argparse.Namespace
    import argparse

    teacher = {f"module.backbone.{k}": v for k, v in written.items()} | {"module.head.mlp.0.weight": torch.zeros(8, 384)}
    args = argparse.Namespace(arch="vit_small", patch_size=16, out_dim=65536, norm_last_layer=False, lr=0.0005,
                              global_crops_scale=(0.4, 1.0), data_path="/path/to/imagenet/train", dist_url="env://")
    optimizer = {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.zeros(4)}},
                 "param_groups": [{"lr": 0.0005, "betas": (0.9, 0.999), "weight_decay": 0.04, "params": [0]}]}
    torch.save({"student": teacher, "teacher": teacher, "optimizer": optimizer, "epoch": 100, "args": args,
                "dino_loss": {"center": torch.zeros(1, 8)},
                "fp16_scaler": {"scale": 65536.0, "growth_factor": 2.0, "_growth_tracker": 12}}, tmp_path / "full.pth")
    weights = read_weights(tmp_path / "full.pth")
    assert weights.format == "dino"
    assert_same(weights.state, written)


def test_deit_file_keeps_its_head_under_model(tmp_path):
    written = write_deit(tmp_path / DEIT)
    raw = torch.load(tmp_path / DEIT, weights_only=True)
    assert list(raw) == ["model"] and raw["model"]["head.weight"].shape == (1000, 384)
    weights = read_weights(tmp_path / DEIT)
    assert weights.format == "deit"
    assert_same(weights.state, written)


def test_dinov2_file_loses_only_its_mask_token(tmp_path):
    written = write_dinov2(tmp_path / DINOV2)
    weights = read_weights(tmp_path / DINOV2)
    assert weights.format == "dinov2"
    assert_same(weights.state, {k: v for k, v in written.items() if k != "mask_token"})
    # timm's Hugging Face copy has no mask_token: recognised by its folder's name
    folder = tmp_path / "vit_small_patch14_dinov2.lvd142m"
    folder.mkdir()
    save_file(weights.state, str(folder / "model.safetensors"))
    assert read_weights(folder / "model.safetensors").format == "dinov2"


def test_dinov2_with_registers_loads_into_timms_reg_model(tmp_path):
    import timm

    written = write_dinov2(tmp_path / "dinov2_vits14_reg4_pretrain.pth", registers=4)
    weights = read_weights(tmp_path / "dinov2_vits14_reg4_pretrain.pth")
    assert weights.format == "dinov2"
    model = timm.create_model("vit_small_patch14_reg4_dinov2", num_classes=0)
    model.load_state_dict(weights.state, strict=True)
    assert torch.equal(model.reg_token, written["register_tokens"])
    assert torch.equal(model.cls_token, written["cls_token"] + written["pos_embed"][:, :1])
    assert torch.equal(model.pos_embed, written["pos_embed"][:, 1:])


def test_openai_weights_saved_as_a_plain_state_dict(tmp_path):
    state = build_openai_layout_clip(TINY_CLIP).state_dict()
    extra = {"input_resolution": torch.tensor(32), "context_length": torch.tensor(77), "vocab_size": torch.tensor(49408)}
    torch.save({k: v.half() for k, v in state.items()} | extra, tmp_path / "clip.pt")
    weights = read_weights(tmp_path / "clip.pt", expect=CLIP_FORMATS)
    assert weights.format == "openai_clip" and set(weights.state) == set(state)
    assert all(v.dtype == torch.float32 for k, v in weights.state.items() if v.is_floating_point())


@pytest.mark.parametrize("name", ["open_clip_pytorch_model.bin", "open_clip_model.safetensors"])
def test_open_clip_hub_files(tmp_path, name):
    written = write_open_clip_state_dict(tmp_path / name, TINY_CLIP, dtype=torch.float16)
    weights = read_weights(tmp_path / name, expect=CLIP_FORMATS)
    assert weights.format == "open_clip"
    assert_same(weights.state, {k: v.float() if v.is_floating_point() else v for k, v in written.items()})


def test_open_clip_training_checkpoint(tmp_path):
    state = build_openai_layout_clip(TINY_CLIP).state_dict()
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}, tmp_path / "epoch_3.pt")
    weights = read_weights(tmp_path / "epoch_3.pt")
    assert weights.format == "open_clip" and list(weights.state) == list(state)


def test_a_format_the_caller_cannot_use_is_named(tmp_path):
    write_dino(tmp_path / DINO, depth=1)
    with pytest.raises(WeightsError, match=f"{DINO}: holds DINO ViT weights \\(dino\\); clip_es needs "
                                           "OpenAI CLIP or open_clip CLIP weights"):
        read_weights(tmp_path / DINO, expect=CLIP_FORMATS, user="clip_es")
    # timm's image tower of CLIP (model.safetensors of timm/vit_base_patch16_clip_224.openai)
    tower = {"cls_token": torch.zeros(1, 1, 8), "norm_pre.weight": torch.ones(8), "blocks.0.attn.qkv.weight": torch.zeros(24, 8)}
    save_file(tower, str(tmp_path / "model.safetensors"))
    with pytest.raises(WeightsError, match="timm's CLIP image tower .* open_clip_model.safetensors"):
        read_weights(tmp_path / "model.safetensors", expect=CLIP_FORMATS, user="clip_es")


@pytest.mark.parametrize("layout", ["safetensors", "bin", "shards"])
def test_clipseg_folder(tmp_path, layout):
    written = write_clipseg_folder(tmp_path / "clipseg-rd64-refined", layout=layout)
    weights = read_weights(tmp_path / "clipseg-rd64-refined", expect=("clipseg",))
    assert weights.format == "clipseg" and weights.config == TINY_CLIPSEG
    assert_same(weights.state, written)  # the legacy position_ids dropped


def test_clipseg_folder_problems_are_named(tmp_path):
    folder = tmp_path / "clipseg-rd64-refined"
    with pytest.raises(WeightsError, match="clipseg-rd64-refined not found. Get it: the Hugging Face folder https"):
        read_weights(folder, expect=("clipseg",))
    write_clipseg_folder(folder, layout="shards")
    with pytest.raises(WeightsError, match="config.json is a file, not a folder"):
        read_weights(folder / "config.json", expect=("clipseg",))
    index = folder / "model.safetensors.index.json"
    good = index.read_text()
    index.write_text(json.dumps({"weight_map": {"a": "../../etc/passwd"}}))
    with pytest.raises(WeightsError, match="shard '../../etc/passwd' is not a file name in"):
        read_weights(folder)
    index.write_text(good)
    (folder / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(WeightsError, match="shard model-00002-of-00002.safetensors not found"):
        read_weights(folder)
    for f in folder.glob("model*"):
        f.unlink()
    with pytest.raises(WeightsError, match="lacks model.safetensors \\(or model.safetensors.index.json\\) or "
                                           "pytorch_model.bin"):
        read_weights(folder)
    (folder / "config.json").write_text(json.dumps({"model_type": "clip"}))
    with pytest.raises(WeightsError, match="model_type 'clip', not 'clipseg'"):
        read_weights(folder)
    (folder / "config.json").unlink()
    with pytest.raises(WeightsError, match="lacks config.json"):
        read_weights(folder)


def test_clipseg_transcription_is_transformers_layout():
    transformers = pytest.importorskip("transformers")
    rd64 = {  # CIDAS/clipseg-rd64-refined's config.json (ViT-B/16, 512-wide text tower)
        "model_type": "clipseg", "projection_dim": 512, "reduce_dim": 64, "extract_layers": [3, 6, 9],
        "decoder_num_attention_heads": 4, "decoder_intermediate_size": 2048,
        "use_complex_transposed_convolution": True,
        "text_config": {"vocab_size": 49408, "hidden_size": 512, "intermediate_size": 2048,
                        "num_hidden_layers": 12, "num_attention_heads": 8, "max_position_embeddings": 77},
        "vision_config": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                          "num_attention_heads": 12, "image_size": 224, "patch_size": 16},
    }  # fmt: skip
    for config in (TINY_CLIPSEG, rd64, {**TINY_CLIPSEG, "use_complex_transposed_convolution": False}):
        with torch.device("meta"):
            model = transformers.CLIPSegForImageSegmentation(transformers.CLIPSegConfig.from_dict(dict(config)))
        assert list(shapes(model.state_dict()).items()) == list(clipseg_layout(config).items())


def _torch_file(path, obj, legacy=False):
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path


@pytest.mark.parametrize("container", ["dino", "deit", "dinov2", "dino_full", "dino_full_args", "open_clip_bin", "legacy_pickle",
                                       "clipseg_bin", "clipseg_shard"])
def test_a_planted_pickle_never_runs(tmp_path, container):
    marker = tmp_path / "pwned"
    evil = Payload(marker)
    small = random_state(dino_layout(depth=1))
    if container == "dino":
        path = _torch_file(tmp_path / DINO, small | {"evil": evil})
    elif container == "deit":
        path = _torch_file(tmp_path / DEIT, {"model": small, "args": evil})
    elif container == "dinov2":
        path = _torch_file(tmp_path / DINOV2, random_state(dinov2_layout(depth=1)) | {"mask_token": evil})
    elif container == "dino_full":
        path = _torch_file(tmp_path / "full.pth", {"teacher": small, "args": evil})
    elif container == "dino_full_args":  # the Namespace is let through, not what it holds
        import argparse

        path = _torch_file(tmp_path / "full.pth", {"teacher": small, "args": argparse.Namespace(lr=evil)})
    elif container == "open_clip_bin":
        path = _torch_file(tmp_path / "open_clip_pytorch_model.bin", {"state_dict": evil})
    elif container == "legacy_pickle":  # torch's pre-1.6 format: one pickle stream, no zip
        path = _torch_file(tmp_path / "old.pth", small | {"evil": evil}, legacy=True)
    elif container == "clipseg_bin":
        path = tmp_path / "clipseg-rd64-refined"
        write_clipseg_folder(path, layout="bin")
        _torch_file(path / "pytorch_model.bin", {"clip.logit_scale": evil})
    else:
        path = tmp_path / "clipseg-rd64-refined"
        write_clipseg_folder(path, layout="safetensors")
        (path / "model.safetensors").unlink()
        _torch_file(path / "pytorch_model-00001-of-00001.bin", {"clip.logit_scale": evil})
        (path / "pytorch_model.bin.index.json").write_text(
            json.dumps({"weight_map": {"clip.logit_scale": "pytorch_model-00001-of-00001.bin"}}))
    with pytest.raises(WeightsError, match="refused, it cannot be loaded with weights_only=True"):
        read_weights(path)
    assert not marker.exists()


def test_the_planted_pickle_is_live(tmp_path):
    """The payload of the test above runs under a plain unpickler (so its absence there means something)."""
    marker = tmp_path / "pwned"
    path = _torch_file(tmp_path / "evil.pth", {"evil": Payload(marker)})
    subprocess.run([sys.executable, "-c", f"import torch; torch.load({str(path)!r}, weights_only=False)"], check=True)
    assert marker.exists()


def test_junk_and_empty_files_are_named(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"not weights at all")
    with pytest.raises(WeightsError, match="junk.pth: cannot be read, not a torch file: it starts with 'not weights at all'"):
        read_weights(tmp_path / "junk.pth")
    torch.save({}, tmp_path / "empty.pth")
    with pytest.raises(WeightsError, match="empty.pth: does not hold a state dict of tensors"):
        read_weights(tmp_path / "empty.pth")
    save_file({"w": torch.zeros(4)}, str(tmp_path / "cut.safetensors"))
    data = (tmp_path / "cut.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:-8])
    with pytest.raises(WeightsError, match="cut.safetensors: not a readable safetensors file"):
        read_weights(tmp_path / "cut.safetensors")
    with pytest.raises(WeightsError, match="weights file .*nowhere.pth not found"):
        read_weights(tmp_path / "nowhere.pth")
