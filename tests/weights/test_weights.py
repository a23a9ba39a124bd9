"""Named weights: the weights folder, the resolution order, every error message, safe loading,
and tiny random-init models saved and loaded back through the resolver."""

from __future__ import annotations

import os
import shutil
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


@pytest.mark.parametrize("damage, why", [
    ("empty", "the file is empty"),
    ("truncated", "the zip archive is truncated or corrupt"),
    ("error page", "not a torch file: it starts with '<?xml version=\"1.0\" encoding=\"UT'"),
])
def test_a_damaged_file_is_called_damaged_not_unsafe(tmp_path, damage, why):
    from wsvol.weights import load_checkpoint_file

    path = tmp_path / "deit_small_patch16_224-cd65a155.pth"
    torch.save({"model": {"w": torch.ones(1000)}}, path)
    data = path.read_bytes()
    path.write_bytes({"empty": b"", "truncated": data[: len(data) // 2],
                      "error page": b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'}[damage])
    with pytest.raises(WeightsError) as err:
        load_state_dict(path)
    assert str(err.value) == f"{path}: cannot be read, {why}; download it again (`wsvol weights list` says from where)"
    with pytest.raises(WeightsError) as err:
        load_checkpoint_file(path)
    assert str(err.value) == f"{path}: cannot be read, {why} (a copy cut short, or not a checkpoint)"


def test_a_checkpoint_cut_anywhere_is_called_damaged(tmp_path):
    """Whatever torch's reader hits in a cut file (RuntimeError, OSError, struct.error, KeyError...)."""
    from wsvol.weights import load_checkpoint_file

    whole = tmp_path / "whole.pth"
    torch.save({"meta": {"epoch": 3}, "state_dict": {"w": torch.arange(20000.0)}}, whole)
    data = whole.read_bytes()
    cut = tmp_path / "cut.pth"
    for end in range(2, len(data), len(data) // 97):
        cut.write_bytes(data[:end])
        with pytest.raises(WeightsError, match=r"cut.pth: cannot be read, the zip archive is truncated or corrupt"):
            load_checkpoint_file(cut)
    for junk, why in ((b"junk", "not a torch file: it starts with 'junk'"),
                      (b"\x80\x02junkjunk", r"the pickle is truncated or corrupt \(KeyError"),
                      (b"\x80\x02", r"the pickle is truncated or corrupt \(EOFError\)")):
        cut.write_bytes(junk)
        with pytest.raises(WeightsError, match=f"cut.pth: cannot be read, {why}"):
            load_checkpoint_file(cut)


def test_a_refused_object_is_named(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(1), "run": os.system}, path)
    with pytest.raises(WeightsError, match=r"evil\.pt: refused, it cannot be loaded with weights_only=True \(it holds "
                                           r"the Python object (posix|nt)\.system, and wsvol unpickles only tensors"):
        load_state_dict(path)


def test_only_batchnorm_step_counters_may_be_missing():
    """torchvision's resnet50-0676ba61.pth predates BatchNorm's num_batches_tracked (torch 0.4.1)."""
    from torch import nn

    from wsvol.weights import load_weights

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Sequential(nn.BatchNorm1d(4)))
    state = {k: torch.rand_like(v.float()) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    load_weights(model, state, "old.pth")
    assert model[1].num_batches_tracked.item() == 0 and model[2][0].num_batches_tracked.dtype == torch.long
    assert torch.equal(model[2][0].running_var, state["2.0.running_var"])
    del state["1.running_mean"]
    with pytest.raises(ValueError, match=r"old.pth do not match Sequential \(1 problem\(s\)\):\n  missing:    1.running_mean"):
        load_weights(model, state, "old.pth")


def test_a_mismatch_lists_the_first_keys_of_each_kind_and_counts_the_rest():
    from torch import nn

    from wsvol.weights import load_weights
    from wsvol.weights.loading import LISTED_KEYS

    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(10)])  # 20 keys
    state = {f"other.{i}": torch.zeros(1) for i in range(3)} | {"0.weight": torch.zeros(5, 5)}
    with pytest.raises(ValueError) as err:
        load_weights(model, state, "other.pth")
    lines = str(err.value).splitlines()
    assert lines[0] == "weights other.pth do not match Sequential (23 problem(s)):"
    missing = [ln for ln in lines if ln.startswith("  missing:")]
    assert len(missing) == LISTED_KEYS and lines[1 + LISTED_KEYS] == f"  ... and {19 - LISTED_KEYS} more missing keys"
    assert sum(ln.startswith("  unexpected:") for ln in lines) == 3 and lines[-1].startswith("  shape:      0.weight")


def test_file_digest_follows_content_not_mtime(tmp_path):
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    a.write_bytes(b"weights" * 1000)
    b.write_bytes(b"weights" * 1000)
    os.utime(b, (time.time() - 1000, time.time() - 1000))
    assert file_digest(a) == file_digest(b)
    b.write_bytes(b"weights" * 999 + b"weightz")
    assert file_digest(a) != file_digest(b)


def test_a_folders_digest_ignores_download_and_git_bookkeeping(tmp_path):
    """``hf download --local-dir`` rewrites .cache/huggingface/download/*.metadata (a timestamp) on
    every run; a git clone's .git changes with `git status`: neither changes the weights."""
    folder = tmp_path / "clipseg-rd64-refined"
    (folder / ".cache" / "huggingface" / "download").mkdir(parents=True)
    (folder / ".git").mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights")
    before = file_digest(folder)
    (folder / ".cache" / "huggingface" / "download" / "model.safetensors.metadata").write_text("abc\n1764967000.1\n")
    (folder / ".git" / "index").write_bytes(b"changed")
    assert file_digest(folder) == before
    (folder / "config.json").write_text('{"projection_dim": 512}')
    changed = file_digest(folder)
    assert changed != before
    (folder / "shards").mkdir()
    (folder / "shards" / "model-00001.bin").write_bytes(b"more")  # a file in a plain subfolder counts
    assert file_digest(folder) != changed


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


# -- the published files, named in a config: resolver → reader → component → the file's tensors ----
DINO, DEIT, DINOV2 = "dino_deitsmall16_pretrain.pth", "deit_small_patch16_224-cd65a155.pth", "dinov2_vits14_pretrain.pth"


def _build(registry, section: str, cfg: dict):
    """Resolve the config's weights (names → files), then build the component as a run does."""
    check_weights({section: cfg})
    return registry.build(cfg)


def _assert_holds(module: torch.nn.Module, expected: dict, skip: tuple[str, ...] = ()) -> None:
    own = module.state_dict()
    keys = {k for k in expected if not k.startswith(skip)} if skip else set(expected)
    assert keys == set(own)
    for k in keys:
        assert torch.equal(own[k], expected[k].to(own[k].dtype)), k


def test_dino_file_by_name_into_timm_vit_at_224_and_448(folder):
    from originals import dino_interpolate_pos_encoding
    from standins import write_dino

    from wsvol.registry import BACKBONES

    written = write_dino(folder / DINO)
    cfg = {"type": "timm_vit", "arch": "vit_small_patch16_224.dino", "pretrained": "dino_vits16", "num_last_blocks": 1}
    _assert_holds(_build(BACKBONES, "backbone", dict(cfg)).model, written)
    at448 = _build(BACKBONES, "backbone", dict(cfg, img_size=448)).model
    x = torch.zeros(1, 28 * 28 + 1, 384)
    assert torch.equal(at448.pos_embed, dino_interpolate_pos_encoding(written["pos_embed"], x, 448, 448))


def test_deit_file_by_name_into_timm_vit_and_vit_classifier(folder):
    from originals import deit_main_interpolate
    from standins import write_deit

    from wsvol.registry import BACKBONES, MODELS

    written = write_deit(folder / DEIT)
    cfg = {"type": "timm_vit", "arch": "deit_small_patch16_224", "pretrained": "deit_s16_in1k", "num_last_blocks": 1}
    _assert_holds(_build(BACKBONES, "backbone", cfg).model, written, skip=("head.",))  # ImageNet head dropped
    cfg = {"type": "vit_classifier", "backbone": "deit_small_patch16_224", "num_classes": 3,
           "pretrained": "deit_s16_in1k", "backbone_kwargs": {"img_size": 384}}
    model = _build(MODELS, "model", cfg)
    _assert_holds(model.backbone, written | {"pos_embed": deit_main_interpolate(written["pos_embed"], 24)},
                  skip=("head.",))
    assert model.head.weight.shape == (3, 384)


def test_dinov2_file_by_name_at_224_follows_dinov2_not_timm(folder):
    import timm
    from originals import DinoV2PosEmbed
    from standins import write_dinov2

    from wsvol.registry import BACKBONES, MODELS

    written = write_dinov2(folder / DINOV2)
    cfg = {"type": "timm_vit", "arch": "vit_small_patch14_dinov2", "img_size": 224, "pretrained": "dinov2_vits14",
           "num_last_blocks": 1}
    model = _build(BACKBONES, "backbone", dict(cfg)).model
    original = DinoV2PosEmbed(written["pos_embed"]).interpolate_pos_encoding(torch.zeros(1, 257, 384), 224, 224)
    _assert_holds(model, written | {"pos_embed": original}, skip=("mask_token",))
    # timm's own route (what TimmViT did before): its antialiased bicubic, other values
    state = {k: v for k, v in written.items()}
    via_timm = timm.create_model("vit_small_patch14_dinov2", pretrained=True, num_classes=0, img_size=224,
                                 pretrained_cfg_overlay=dict(state_dict=state, num_classes=0))
    diff = (via_timm.pos_embed - model.pos_embed)[:, 1:].norm() / model.pos_embed[:, 1:].norm()
    assert diff > 0.5  # on white-noise embeddings; 2.8 % on smooth ones, enough to move boxes
    # ... which a config can still ask for
    as_timm = _build(BACKBONES, "backbone", dict(cfg, pos_embed_resize="timm")).model
    assert torch.equal(as_timm.pos_embed, via_timm.pos_embed)
    classifier = _build(MODELS, "model", {"type": "vit_classifier", "backbone": "vit_small_patch14_dinov2",
                                          "num_classes": 2, "pretrained": "dinov2_vits14",
                                          "backbone_kwargs": {"img_size": 224}})
    assert torch.equal(classifier.backbone.pos_embed, original)


def test_resnet50_file_by_name_into_resnet50_cam(folder):
    from standins import write_resnet50

    from wsvol.registry import MODELS

    written = write_resnet50(folder / "resnet50-0676ba61.pth")  # as published: no BatchNorm step counters
    assert written and not any(k.endswith("num_batches_tracked") for k in written)
    model = _build(MODELS, "model", {"type": "resnet50_cam", "backbone": "resnet50", "num_classes": 2,
                                     "pretrained": "resnet50_in1k"})
    counters = {k: torch.tensor(0) for k in model.backbone.state_dict() if k.endswith("num_batches_tracked")}
    _assert_holds(model.backbone, written | counters, skip=("fc.",))


def test_openai_archive_by_name_into_clip_es(folder, tiny_archive):
    from originals import clip_es_upsample_pos_emb
    from standins import TINY_CLIP

    from wsvol.registry import PSEUDO_LABEL_SOURCES

    path, written = tiny_archive
    shutil.copy(path, folder / "ViT-B-16.pt")
    expected = {k: v for k, v in written.items() if k not in ("input_resolution", "context_length", "vocab_size")}
    cfg = {"type": "clip_es", "pretrained": CLIP, "model_overrides": TINY_CLIP.overrides(), "attn_layers": 1}
    source = _build(PSEUDO_LABEL_SOURCES, "source", dict(cfg))
    _assert_holds(source.model, {k: v.float() for k, v in expected.items()})
    # at 64×64 (a 4×4 grid from the file's 2×2), CLIP-ES's bilinear upsample_pos_emb
    overrides = TINY_CLIP.overrides()
    overrides["vision_cfg"]["image_size"] = 64
    big = _build(PSEUDO_LABEL_SOURCES, "source", dict(cfg, model_overrides=overrides))
    assert torch.equal(big.model.visual.positional_embedding,
                       clip_es_upsample_pos_emb(written["visual.positional_embedding"].float(), (4, 4)))
    with pytest.raises(ValueError, match="trained with QuickGELU, but model 'ViT-B-16' uses GELU"):
        _build(PSEUDO_LABEL_SOURCES, "source", dict(cfg, model_name="ViT-B-16"))


def test_open_clip_hub_download_by_name_into_clip_es(folder):
    from standins import TINY_CLIP, write_open_clip_state_dict

    from wsvol.registry import PSEUDO_LABEL_SOURCES

    hub = folder / "vit_base_patch16_clip_224.openai"
    hub.mkdir()
    written = write_open_clip_state_dict(hub / "open_clip_model.safetensors", TINY_CLIP)
    assert resolve_weights(CLIP).path == hub / "open_clip_model.safetensors"
    source = _build(PSEUDO_LABEL_SOURCES, "source", {"type": "clip_es", "pretrained": CLIP, "attn_layers": 1,
                                                     "model_overrides": TINY_CLIP.overrides()})
    _assert_holds(source.model, written)


def test_clipseg_folder_by_name(folder):
    from standins import write_clipseg_folder

    from wsvol.weights import read_weights

    written = write_clipseg_folder(folder / "clipseg-rd64-refined", layout="bin")
    cfg = {"pseudo_labels": {"source": {"type": "clipseg", "pretrained": "clipseg_rd64_refined"}}}
    (res,) = check_weights(cfg)
    assert res.path == folder / "clipseg-rd64-refined" and res.how == "weights folder"
    weights = read_weights(cfg["pseudo_labels"]["source"]["pretrained"], expect=("clipseg",))
    assert set(weights.state) == set(written) and all(torch.equal(weights.state[k], v) for k, v in written.items())


def test_dinov2_with_registers_at_224_follows_the_reg_models(tmp_path):
    from originals import DinoV2PosEmbed
    from standins import write_dinov2

    from wsvol.models.backbones.vit import TimmViT

    written = write_dinov2(tmp_path / "dinov2_vits14_reg4_pretrain.pth", registers=4)
    model = TimmViT("vit_small_patch14_reg4_dinov2", img_size=224, num_last_blocks=1,
                    pretrained=tmp_path / "dinov2_vits14_reg4_pretrain.pth").model
    original = DinoV2PosEmbed(written["pos_embed"], interpolate_antialias=True, interpolate_offset=0.0)
    expected = original.interpolate_pos_encoding(torch.zeros(1, 257, 384), 224, 224)[:, 1:]  # no CLS slot in timm's
    assert torch.equal(model.pos_embed, expected)
    assert torch.equal(model.reg_token, written["register_tokens"])


def test_an_unknown_weights_name_reads_as_a_sentence_with_or_without_a_suggestion(folder):
    from wsvol.weights import resolve_weights

    with pytest.raises(WeightsError) as err:
        resolve_weights("dino_vit16", "model.pretrained")
    assert "is neither a weights file nor a known weights name; did you mean 'dino_vits16'? Known names: " \
        in str(err.value)
    with pytest.raises(WeightsError) as err:
        resolve_weights("qqqq", "model.pretrained")
    assert "is neither a weights file nor a known weights name; known names: " in str(err.value)
    assert "dino_vits16" in str(err.value)
