"""The example plugin's components, used directly: DINO attention maps and the entropy loss."""

import math

import pytest
import torch
import torch.nn.functional as F
from wsvol_example.dino_attention import DinoAttention, top_mass_mask
from wsvol_example.entropy_min import EntropyMinLoss

# A tiny random-init DINO-style ViT: 32×32 input, 8×8 patches → 4×4 grid, 3 heads, and two
# register tokens so that the prefix (CLS + registers) is not just the CLS token.
TINY = {"type": "timm_vit", "arch": "vit_small_patch16_224.dino", "img_size": 32, "patch_size": 8,
        "depth": 2, "embed_dim": 48, "num_heads": 3, "reg_tokens": 2, "num_last_blocks": 1}
PREFIX, GRID, HEADS = 3, 4, 3


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def source(**kw) -> DinoAttention:
    torch.manual_seed(0)
    return DinoAttention(backbone=TINY, **kw)


def cls_attention_by_hand(attn: torch.Tensor, heads: list[int]) -> torch.Tensor:
    """(B, GRID, GRID): CLS row of ``attn`` at each patch's token, averaged over ``heads``."""
    b = attn.shape[0]
    out = torch.zeros(b, GRID, GRID)
    for i in range(b):
        for row in range(GRID):
            for col in range(GRID):
                token = PREFIX + row * GRID + col  # patches follow the prefix in raster order
                out[i, row, col] = sum(attn[i, h, 0, token] for h in heads) / len(heads)
    return out


def dino_threshold(values: torch.Tensor, mass: float) -> torch.Tensor:
    """DINO's visualize_attention.py thresholding, row by row, as a reference."""
    val, idx = torch.sort(values)
    val = val / val.sum(dim=1, keepdim=True)
    keep = torch.cumsum(val, dim=1) > (1 - mass)
    return torch.stack([keep[r][torch.argsort(idx[r])] for r in range(values.shape[0])])


@pytest.mark.parametrize("head", [None, 1])
def test_map_is_cls_attention_of_backbone(images, head):
    src = source(head=head)
    attn = src.backbone(images)["attn"]
    assert attn.shape == (2, HEADS, PREFIX + GRID * GRID, PREFIX + GRID * GRID)
    grid = cls_attention_by_hand(attn, list(range(HEADS)) if head is None else [head])
    torch.testing.assert_close(src.attention_grid(images), grid)

    up = F.interpolate(grid[:, None], size=(32, 32), mode="bilinear", align_corners=False)[:, 0]
    lo, hi = up.amin(dim=(1, 2), keepdim=True), up.amax(dim=(1, 2), keepdim=True)
    torch.testing.assert_close(src(images, torch.tensor([0, 1])), (up - lo) / (hi - lo))


def test_maps_shape_range_and_labels_ignored(images):
    src = source(keep_mass=0.6)
    maps = src(images, torch.tensor([0, 1]))
    assert maps.shape == (2, 32, 32) and maps.dtype == torch.float32
    assert torch.allclose(maps.amin(dim=(1, 2)), torch.zeros(2))
    assert torch.allclose(maps.amax(dim=(1, 2)), torch.ones(2))
    torch.testing.assert_close(src(images, [9, 4]), maps)  # class-agnostic
    assert src.input_size == (32, 32) and len(src.mean) == 3 and not src.training
    with pytest.raises(ValueError, match="label 10 is not a class id"):
        src(images, [0, 10])
    with pytest.raises(ValueError, match="expects 32x32"):
        src(torch.randn(1, 3, 48, 48), [0])


@pytest.mark.parametrize("mass", [0.1, 0.6, 0.9, 1.0])
def test_keep_mass_matches_dino_thresholding(mass):
    values = torch.rand(5, 40, generator=torch.Generator().manual_seed(1))
    keep = top_mass_mask(values, mass)
    if mass < 1.0:  # at 1.0, DINO's `cumsum > 0` keeps every entry too, but float rounding may not
        assert torch.equal(keep, dino_threshold(values, mass))
    assert torch.all((values * keep).sum(1) >= mass * values.sum(1) - 1e-6)


def test_keep_mass_keeps_ties_and_masks_the_grid(images):
    ties = torch.tensor([[0.25, 0.25, 0.25, 0.25], [0.0, 0.5, 0.3, 0.2]])
    # row 0: 0.5 of the mass needs two entries, all four are tied; row 1: 0.5 alone suffices
    assert top_mass_mask(ties, 0.5).tolist() == [[True] * 4, [False, True, False, False]]
    full, kept = source().attention_grid(images), source(keep_mass=0.6).attention_grid(images)
    mask = top_mass_mask(full.flatten(1), 0.6).view_as(full)
    torch.testing.assert_close(kept, full * mask)
    assert 0 < mask.sum() < mask.numel()


def test_pretrained_file_or_weights_name_is_loaded(images, tmp_path, monkeypatch):
    src = source()
    path = tmp_path / "dino_deitsmall16_pretrain.pth"  # the file name weights_files() declares
    torch.save(src.backbone.model.state_dict(), path)
    expected = src(images, [0, 0])
    monkeypatch.setenv("WSVOL_WEIGHTS", str(tmp_path))  # the weights folder
    for pretrained in (str(path), "dino_vits16"):
        torch.manual_seed(123)  # a different random init, overwritten by the file
        loaded = DinoAttention(backbone=TINY, pretrained=pretrained)
        torch.testing.assert_close(loaded(images, [0, 0]), expected)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="head=3 but the backbone has 3 heads"):
        source(head=3)
    with pytest.raises(ValueError, match="keep_mass=0"):
        source(keep_mass=0.0)
    with pytest.raises(ValueError, match="disagree"):
        DinoAttention(backbone={**TINY, "pretrained": "a.pth"}, pretrained="b.pth")


def test_entropy_min_equals_hand_computation():
    # pixel 1: logits (0, 0) → p = (1/2, 1/2), H = ln 2
    # pixel 2: logits (0, ln 3) → p = (1/4, 3/4), H = −(1/4)ln(1/4) − (3/4)ln(3/4)
    logits = torch.tensor([[[[0.0, 0.0]], [[0.0, math.log(3)]]]], requires_grad=True)  # (1, 2, 1, 2)
    h1 = math.log(2)
    h2 = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    loss = EntropyMinLoss(loss_weight=0.5)(logits)
    assert loss.item() == pytest.approx(0.5 * (h1 + h2) / 2, rel=1e-6)
    loss.backward()
    assert torch.allclose(logits.grad[0, :, 0, 0], torch.zeros(2))  # uniform: a maximum of H
    assert logits.grad[0, 1, 0, 1] < 0  # more foreground → lower entropy there
    with pytest.raises(ValueError, match=r"\(B, C>=2, H, W\), got \(2, 8, 8\)"):
        EntropyMinLoss()(torch.zeros(2, 8, 8))
