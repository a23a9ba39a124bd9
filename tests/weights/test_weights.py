"""Named weights: the weights folder, the resolution order, every error message, safe loading,
and tiny random-init models saved and loaded back through the resolver."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from wsvol.plugin_manager import get_manager
from wsvol.weights import (
    TIMM_WEIGHTS,
    WEIGHTS,
    WeightsError,
    check_weights,
    file_digest,
    known_weights,
    load_state_dict,
    resolve_weights,
    weights_dir,
)

CLIP = "clip_vit_b16_openai"


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    """An empty weights folder set through $WSVOL_WEIGHTS."""
    d = tmp_path / "weights"
    d.mkdir()
    monkeypatch.setenv("WSVOL_WEIGHTS", str(d))
    return d


class _Resolver:
    """A plugin answering ``wsvol_resolve_weights`` for one name."""

    def __init__(self, name: str, path: Path) -> None:
        self.name, self.path = name, path

    from wsvol.hookspecs import hookimpl

    @hookimpl
    def wsvol_resolve_weights(self, name: str) -> str | None:
        return str(self.path) if name == self.name else None


@pytest.fixture
def plugin():
    """Register a resolver plugin with the real plugin manager for one test."""
    pm = get_manager().pm
    names = []

    def add(name: str, path: Path) -> None:
        names.append(f"test-resolver-{len(names)}")
        pm.register(_Resolver(name, path), name=names[-1])

    yield add
    for n in names:
        pm.unregister(name=n)


def test_weights_folder_env_then_xdg_then_home(tmp_path, monkeypatch):
    monkeypatch.delenv("WSVOL_WEIGHTS", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert weights_dir() == tmp_path / "home" / ".cache" / "wsvol" / "weights"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert weights_dir() == tmp_path / "xdg" / "wsvol" / "weights"
    monkeypatch.setenv("WSVOL_WEIGHTS", str(tmp_path / "mine"))
    assert weights_dir() == tmp_path / "mine"


def test_known_weights_cover_sources_and_timm_backbones():
    known = known_weights()
    assert known[CLIP].file.filename == "ViT-B-16.pt"
    assert "pseudo_label_source clip_es" in known[CLIP].used_by
    for arch in ("deit_small_patch16_224", "vit_small_patch16_224.dino", "deit_base_patch16_224",
                 "vit_base_patch16_224.dino"):
        wf = WEIGHTS[TIMM_WEIGHTS[arch]]
        assert known[wf.name].file.filename == wf.filename
        assert "https://" in wf.source
        assert any(arch in user for user in known[wf.name].used_by)
    # the whole catalogue is known, whichever components are installed
    assert set(WEIGHTS) <= set(known) and "clipseg_rd64_refined" in known


def test_resolution_order_plugin_then_folder(folder, tmp_path, plugin):
    in_folder = folder / "ViT-B-16.pt"
    in_folder.write_bytes(b"x")
    res = resolve_weights(CLIP)
    assert (res.path, res.how) == (in_folder, "weights folder")
    elsewhere = tmp_path / "plugin" / "clip.pt"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(b"y")
    plugin(CLIP, elsewhere)
    res = resolve_weights(CLIP)
    assert (res.path, res.how) == (elsewhere, "plugin")  # a plugin comes before the folder
    explicit = tmp_path / "mine.pt"
    explicit.write_bytes(b"z")
    res = resolve_weights(str(explicit))
    assert (res.path, res.how) == (explicit, "explicit path")  # a path in the config comes first


def test_missing_named_weights_say_file_folder_and_source(folder):
    with pytest.raises(WeightsError) as err:
        resolve_weights(CLIP, "pseudo_labels.source.pretrained")
    msg = str(err.value)
    assert "ViT-B-16.pt" in msg and str(folder) in msg
    assert "pseudo_labels.source.pretrained" in msg
    assert "openaipublic.azureedge.net" in msg  # where to get it


def test_missing_path_and_unknown_name_messages(folder, tmp_path, monkeypatch):
    with pytest.raises(WeightsError, match=r"weights file .*nowhere\.pt \(config key model\.pretrained\) not found"):
        resolve_weights(str(tmp_path / "nowhere.pt"), "model.pretrained")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WeightsError) as err:  # a bare known file name: says where it looked, where to get it
        resolve_weights("dino_deitsmall16_pretrain.pth", "model.backbone.pretrained")
    assert str(folder) in str(err.value) and "dl.fbaipublicfiles.com/dino" in str(err.value)
    with pytest.raises(WeightsError, match="did you mean 'clip_vit_b16_openai'"):
        resolve_weights("clip_vit_b16_opena", "x.pretrained")
    (folder / "dino_deitsmall16_pretrain.pth").write_bytes(b"x")  # a bare file name found in the folder
    assert resolve_weights("dino_deitsmall16_pretrain.pth").path == folder / "dino_deitsmall16_pretrain.pth"


def test_a_plugin_answer_that_does_not_exist_is_reported(folder, tmp_path, plugin):
    plugin(CLIP, tmp_path / "gone.pt")
    with pytest.raises(WeightsError, match=r"a plugin resolved weights 'clip_vit_b16_openai' to .*gone\.pt"):
        resolve_weights(CLIP)


def test_check_weights_walks_the_config_and_reports_all_problems(folder, tmp_path):
    (folder / "ViT-B-16.pt").write_bytes(b"x")
    ckpt = tmp_path / "epoch_1.pth"
    ckpt.write_bytes(b"x")
    cfg = {
        "model": {"type": "vit_classifier", "pretrained": None, "backbone": "vit_small_patch16_224"},
        "pseudo_labels": {"source": {"type": "clip_es", "pretrained": CLIP}},
        "custom": [{"type": "cam", "checkpoint": str(ckpt)}],
        "not_a_component": {"pretrained": "ignored"},  # no type: not a component config
        "default_hooks": {"checkpoint": {"type": "CheckpointHook", "interval": 1}},
    }
    found = check_weights(cfg)
    assert {r.key: r.how for r in found} == {"pseudo_labels.source.pretrained": "weights folder",
                                             "custom.0.checkpoint": "explicit path"}
    assert cfg["pseudo_labels"]["source"]["pretrained"] == str(folder / "ViT-B-16.pt")  # name → path
    bad = {"a": {"type": "timm_vit", "pretrained": "dino_vits16"},
           "b": {"type": "cam", "checkpoint": str(tmp_path / "no.pth")}}
    with pytest.raises(WeightsError) as err:
        check_weights(bad)
    msg = str(err.value)
    assert msg.startswith("2 weights missing")
    assert "dino_deitsmall16_pretrain.pth" in msg and "a.pretrained" in msg and "b.checkpoint" in msg


def test_check_weights_works_on_an_mmengine_config(folder):
    from mmengine.config import Config

    (folder / "ViT-B-16.pt").write_bytes(b"x")
    cfg = Config({"pseudo_labels": {"source": {"type": "clip_es", "pretrained": CLIP}}})
    check_weights(cfg)
    assert cfg.pseudo_labels.source.pretrained == str(folder / "ViT-B-16.pt")


class _Payload:
    """Any class: pickling it makes a file that weights_only loading must refuse."""

    def __init__(self) -> None:
        self.w = torch.zeros(2)


def test_weights_only_loading_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": _Payload()}, path)
    with pytest.raises(WeightsError, match=r"evil\.pt: refused, it cannot be loaded with weights_only=True"):
        load_state_dict(path)
    plain = tmp_path / "plain.pt"
    torch.save({"model": {"w": torch.ones(3)}}, plain)  # official DeiT layout: unwrapped
    assert torch.equal(load_state_dict(plain)["w"], torch.ones(3))
    st = tmp_path / "w.safetensors"
    save_file({"w": torch.arange(4.0)}, str(st))
    assert torch.equal(load_state_dict(st)["w"], torch.arange(4.0))


def test_file_digest_follows_content_not_mtime(tmp_path):
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    a.write_bytes(b"weights" * 1000)
    b.write_bytes(b"weights" * 1000)
    os.utime(b, (time.time() - 1000, time.time() - 1000))
    assert file_digest(a) == file_digest(b)
    b.write_bytes(b"weights" * 999 + b"weightz")
    assert file_digest(a) != file_digest(b)


# -- tiny random-init models saved and loaded back through the resolver -------------------------
def _same(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def test_dino_vits16_loads_by_name_into_the_timm_backbone(folder):
    from wsvol.models.backbones.vit import TimmViT

    tiny = dict(arch="vit_small_patch16_224.dino", img_size=32, depth=2, embed_dim=48, num_heads=2,
                num_last_blocks=1)
    torch.manual_seed(0)
    src = TimmViT(**tiny)
    torch.save(dict(src.model.state_dict()), folder / "dino_deitsmall16_pretrain.pth")
    cfg = {"model": {"backbone": {"type": "timm_vit", **tiny, "pretrained": "dino_vits16"}}}
    check_weights(cfg)
    torch.manual_seed(1)
    _same(src, TimmViT(**{k: v for k, v in cfg["model"]["backbone"].items() if k != "type"}))


def test_deit_s16_official_layout_loads_by_name_into_the_vit_classifier(folder):
    from wsvol.models.classifiers import ViTClassifier

    kw = dict(backbone="deit_small_patch16_224", num_classes=3,
              backbone_kwargs=dict(img_size=32, depth=1, embed_dim=48, num_heads=2))
    torch.manual_seed(0)
    src = ViTClassifier(**kw)
    state = {f"{k}": v for k, v in src.backbone.state_dict().items()}
    state["head.weight"], state["head.bias"] = torch.zeros(1000, 48), torch.zeros(1000)  # ImageNet head
    torch.save({"model": state}, folder / "deit_small_patch16_224-cd65a155.pth")
    cfg = {"model": {"type": "vit_classifier", **kw, "pretrained": "deit_s16_in1k"}}
    check_weights(cfg)
    torch.manual_seed(1)
    got = ViTClassifier(**{k: v for k, v in cfg["model"].items() if k != "type"})
    _same(src.backbone, got.backbone)


def test_clip_loads_by_name(folder):
    pytest.importorskip("open_clip")
    from wsvol.pseudo_labels.clip_es import ClipES

    tiny = dict(embed_dim=32, vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=16, head_width=16),
                text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1))
    torch.manual_seed(0)
    src = ClipES(model_overrides=tiny, attn_layers=1)
    torch.save(src.model.state_dict(), folder / "ViT-B-16.pt")
    torch.manual_seed(1)
    got = ClipES(model_overrides=tiny, attn_layers=1, pretrained=CLIP)  # the name, resolved in the source
    _same(src.model, got.model)
    (folder / "ViT-B-16.pt").unlink()
    with pytest.raises(WeightsError, match="ViT-B-16.pt"):
        ClipES(model_overrides=tiny, attn_layers=1, pretrained=CLIP)
