"""The timm ViT backbone against timm itself: explicit attention path, truncated models, saved files."""

import copy
import socket

import pytest
import timm
import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, OPENAI_CLIP_MEAN

from wsvol.models.backbones.vit import TimmViT

TINY = dict(depth=5, embed_dim=48, num_heads=3)
# name: (arch, img_size, extra timm kwargs, patch size, prefix tokens)
CASES = {
    "deit_p16": ("deit_small_patch16_224", 64, {}, 16, 1),
    "dino_p8": ("vit_small_patch8_224.dino", 32, {}, 8, 1),
    "dinov2_reg4_p14": ("vit_small_patch14_reg4_dinov2", 56, {}, 14, 5),
    "reg_tokens_qk_norm": (
        "vit_small_patch16_224.dino",
        48,
        {"reg_tokens": 4, "qk_norm": True},
        16,
        5,
    ),
    # hybrid: a ResNet stem (stride 4) then 2×2 patches of its features, tokens at stride 8
    "hybrid_stem_p2": ("vit_tiny_r_s16_p8_224", 32, {"patch_size": 2}, 8, 1),
}


def _backbone(case: str, **kw) -> TimmViT:
    arch, img, extra, _, _ = CASES[case]
    return TimmViT(arch, img_size=img, **TINY, **extra, **kw)


def _fresh_timm(case: str, backbone: TimmViT) -> torch.nn.Module:
    """The same weights in a plain timm model, with no hook."""
    arch, img, extra, _, _ = CASES[case]
    model = timm.create_model(arch, pretrained=False, num_classes=0, img_size=img, **TINY, **extra)
    model.load_state_dict(backbone.model.state_dict())
    return model.eval()


def _images(case: str, batch: int = 2) -> torch.Tensor:
    img = CASES[case][1]
    return torch.randn(batch, 3, img, img, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("case", CASES)
def test_attention_equals_timm_explicit_softmax(case):
    torch.manual_seed(0)
    backbone = _backbone(case)
    ref = _fresh_timm(case, backbone)
    last = ref.blocks[-1].attn
    last.fused_attn = False  # timm's own non-fused path: softmax(q·kᵀ·scale) → attn_drop
    seen = []
    last.attn_drop.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    x = _images(case)
    attn = backbone(x)["attn"]
    ref.forward_features(x)
    tokens = backbone.num_prefix_tokens + backbone.num_patches
    assert attn.shape == (2, 3, tokens, tokens)
    torch.testing.assert_close(attn, seen[0], rtol=0, atol=1e-6)
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 3, tokens))


@pytest.mark.parametrize("case", ["deit_p16", "reg_tokens_qk_norm"])
def test_output_is_timms_own_with_the_last_attention_unfused(case):
    backbone = _backbone(case)
    x = _images(case)
    with_hook = backbone.model.forward_features(x)
    ref = _fresh_timm(case, backbone)
    assert all(b.attn.fused_attn for b in backbone.model.blocks[:-1])  # fused path kept
    torch.testing.assert_close(with_hook, ref.forward_features(x), rtol=1e-5, atol=1e-5)
    ref.blocks[-1].attn.fused_attn = False
    assert torch.equal(with_hook, ref.forward_features(x))


@pytest.mark.parametrize("case", ["deit_p16", "hybrid_stem_p2"])
def test_the_last_attention_is_computed_once(case):
    backbone = _backbone(case)
    calls = []
    backbone.model.blocks[-1].attn.qkv.register_forward_hook(lambda *_: calls.append(1))
    backbone(_images(case))
    assert len(calls) == 1


@pytest.mark.parametrize("case", ["deit_p16", "dinov2_reg4_p14"])
def test_cls_tokens_are_normed_cls_after_each_last_block(case):
    backbone = _backbone(case)
    x = _images(case)
    cls_tokens = backbone(x)["cls_tokens"]
    assert cls_tokens.shape == (2, 4, 48)
    for i in range(
        4
    ):  # token i comes after block depth-4+i; forward_features ends with the final norm
        truncated = _fresh_timm(case, backbone)
        truncated.blocks = truncated.blocks[: TINY["depth"] - 3 + i]
        torch.testing.assert_close(cls_tokens[:, i], truncated.forward_features(x)[:, 0])


@pytest.mark.parametrize("case", CASES)
def test_geometry(case):
    _, img, _, patch, prefix = CASES[case]
    backbone = _backbone(case)
    assert (backbone.num_heads, backbone.embed_dim, backbone.num_prefix_tokens) == (3, 48, prefix)
    assert backbone.patch_size == (patch, patch)
    assert backbone.grid_size == (img // patch, img // patch)
    assert backbone.img_size == (img, img)
    mean, std = ((0.5,) * 3, (0.5,) * 3) if case.startswith("hybrid") else (IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD)
    assert backbone.mean == mean and backbone.std == std  # timm's normalization of that model


def test_mean_std_follow_the_pretrained_cfg():
    clip = TimmViT("vit_base_patch16_clip_224.openai", img_size=32, **TINY)
    assert clip.mean == OPENAI_CLIP_MEAN


def test_frozen_backbone_has_no_grads_and_stays_in_eval():
    frozen = _backbone("deit_p16", frozen=True).train()
    assert frozen.training
    assert not any(p.requires_grad for p in frozen.parameters())
    assert not any(m.training for m in frozen.model.modules())
    out = frozen(_images("deit_p16"))
    assert not out["attn"].requires_grad and not out["cls_tokens"].requires_grad

    trainable = _backbone("deit_p16", frozen=False).train()
    assert all(p.requires_grad for p in trainable.parameters())
    assert all(m.training for m in trainable.model.modules())
    (
        trainable(_images("deit_p16"))["attn"] ** 2
    ).sum().backward()  # the recomputed attention is differentiable
    assert trainable.model.blocks[-1].attn.qkv.weight.grad.abs().sum() > 0


def test_deepcopy_keeps_a_working_hook():
    backbone = _backbone("deit_p16")
    x = _images("deit_p16")
    torch.testing.assert_close(copy.deepcopy(backbone)(x)["attn"], backbone(x)["attn"])


@pytest.mark.parametrize("wrap", [None, "state_dict", "model"])
def test_local_weights_round_trip_offline(tmp_path, monkeypatch, wrap):
    source = _backbone("dino_p8")
    state = source.model.state_dict()
    path = tmp_path / "tiny.pth"
    torch.save(state if wrap is None else {wrap: state}, path)

    def no_network(*args, **kwargs):
        raise AssertionError("network access while loading a local file")

    monkeypatch.setattr(socket, "socket", no_network)
    loaded = _backbone("dino_p8", pretrained=path)
    assert state.keys() == loaded.model.state_dict().keys()
    assert all(torch.equal(v, loaded.model.state_dict()[k]) for k, v in state.items())
    other = _backbone("dino_p8")  # a random init differs, so equality above is not a coincidence
    assert not torch.equal(other.model.pos_embed, source.model.pos_embed)


def test_weights_file_with_classifier_and_other_resolution(tmp_path):
    arch, _, _, _, _ = CASES["deit_p16"]  # timm's cfg for DeiT has a 1000-class head
    trained = timm.create_model(arch, pretrained=False, num_classes=5, img_size=64, **TINY)
    path = tmp_path / "with_head.pth"
    torch.save({"model": trained.state_dict()}, path)
    loaded = TimmViT(arch, img_size=32, pretrained=path, **TINY)
    assert torch.equal(loaded.model.blocks[-1].attn.qkv.weight, trained.blocks[-1].attn.qkv.weight)
    assert loaded.model.pos_embed.shape == (1, 1 + 2 * 2, 48)  # resized from 4×4 to 2×2 patches
    torch.testing.assert_close(
        loaded.model.pos_embed[:, 0], trained.pos_embed[:, 0]
    )  # CLS slot kept


def test_missing_weights_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        _backbone("deit_p16", pretrained=tmp_path / "nope.pth")


def test_mismatched_weights_file_is_named(tmp_path):
    arch, img, _, _, _ = CASES["deit_p16"]
    shallow = TimmViT(arch, img_size=img, depth=4, embed_dim=48, num_heads=3)
    path = tmp_path / "shallow.pth"
    torch.save(shallow.model.state_dict(), path)
    with pytest.raises(ValueError, match=r"shallow\.pth do not match VisionTransformer \(12 problem") as err:
        _backbone("deit_p16", pretrained=path)
    assert "missing:    blocks.4.attn.qkv.weight (144, 48)" in str(err.value)


def test_bad_configurations():
    with pytest.raises(ValueError, match="num_last_blocks=6"):
        _backbone("deit_p16", num_last_blocks=6)
    with pytest.raises(TypeError, match="cls_token"):
        TimmViT("vit_small_patch16_224", img_size=32, class_token=False, global_pool="avg", **TINY)
