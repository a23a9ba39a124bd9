"""CLIP-ES pseudo-labels on a tiny random-init open_clip CLIP, checked stage by stage."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

open_clip = pytest.importorskip("open_clip")

from wsvol.data.classes import YOUTUBE_OBJECTS_CLASSES  # noqa: E402
from wsvol.pseudo_labels.base import PseudoLabelSource  # noqa: E402
from wsvol.pseudo_labels.clip_es import (  # noqa: E402
    BACKGROUND_WORDS,
    ClipES,
    block_attention,
    cam_box_mask,
    refine_cam,
)

pytestmark = pytest.mark.clip

# 3 blocks of width 32 with 2 heads, 64×64 input in 8×8 patches (an 8×8 grid); ~6 MB.
TINY = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=64, layers=3, width=32, patch_size=8, head_width=16),
    text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1),
)
# Refine over the last 2 of the 3 blocks; the model's own logit scale (~14) keeps the random
# model's softmax unsaturated, so gradients are not vanishingly small.
ARGS = dict(model_overrides=TINY, attn_layers=2, logit_scale=None)
LABELS = torch.tensor([0, 3, 9])


@pytest.fixture(scope="module")
def source() -> ClipES:
    torch.manual_seed(0)
    return ClipES(**ARGS)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def result(source, images):
    return source.run(images, LABELS)


# ---------------------------------------------------------------- direct computations
def embed_tokens(model, images):
    """Patch embedding + class token + positions + ln_pre, written out."""
    v = model.visual
    x = F.conv2d(images, v.conv1.weight, stride=v.conv1.stride).flatten(2).transpose(1, 2)
    cls = v.class_embedding.view(1, 1, -1).expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], dim=1) + v.positional_embedding
    return F.layer_norm(x, x.shape[-1:], v.ln_pre.weight, v.ln_pre.bias, v.ln_pre.eps)


def layer_norm(x, ln):
    return F.layer_norm(x, x.shape[-1:], ln.weight, ln.bias, ln.eps)


def text_features(model, names):
    tokens = open_clip.tokenize([f"a clean origami {n}." for n in names])
    return model.encode_text(tokens, normalize=True)


def direct_last_block(model, x, z):
    """The last block on input ``x`` with its ln_1 output ``z``, attention written out."""
    blk = model.visual.transformer.resblocks[-1]
    b, n, d = z.shape
    heads = blk.attn.num_heads
    q, k, v = (z @ blk.attn.in_proj_weight.T + blk.attn.in_proj_bias).chunk(3, dim=-1)
    q, k, v = (t.reshape(b, n, heads, d // heads).transpose(1, 2) for t in (q, k, v))
    a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // heads), dim=-1)
    y = (a @ v).transpose(1, 2).reshape(b, n, d)
    x = x + y @ blk.attn.out_proj.weight.T + blk.attn.out_proj.bias
    h = layer_norm(x, blk.ln_2) @ blk.mlp.c_fc.weight.T + blk.mlp.c_fc.bias
    h = h * torch.sigmoid(1.702 * h)  # QuickGELU
    return x + h @ blk.mlp.c_proj.weight.T + blk.mlp.c_proj.bias


def direct_probs(model, feats, labels, scale):
    classes = text_features(model, YOUTUBE_OBJECTS_CLASSES)
    background = text_features(model, BACKGROUND_WORDS)
    text = torch.cat([classes[labels][:, None], background.expand(len(labels), -1, -1)], dim=1)
    return torch.softmax(
        scale * torch.einsum("bd,bkd->bk", F.normalize(feats, dim=-1), text), dim=-1
    )


# ---------------------------------------------------------------- python-loop refinement
def py_box_mask(cam):
    """Union of the (reference-convention) boxes of the 8-connected parts of uint8 > int(0.4·max)."""
    h, w = len(cam), len(cam[0])
    u8 = [[int(np.float32(v) * np.float32(255)) for v in row] for row in cam]
    thr = int(0.4 * max(max(row) for row in u8))
    on = [[u8[y][x] > thr for x in range(w)] for y in range(h)]
    seen = [[False] * w for _ in range(h)]
    mask = [[False] * w for _ in range(h)]
    for sy in range(h):
        for sx in range(w):
            if not on[sy][sx] or seen[sy][sx]:
                continue
            stack, part = [(sy, sx)], []
            seen[sy][sx] = True
            while stack:
                y, x = stack.pop()
                part.append((y, x))
                for dy in (-1, 0, 1):
                    for dx in (-1, 0, 1):
                        yy, xx = y + dy, x + dx
                        if 0 <= yy < h and 0 <= xx < w and on[yy][xx] and not seen[yy][xx]:
                            seen[yy][xx] = True
                            stack.append((yy, xx))
            y0, x0 = min(p[0] for p in part), min(p[1] for p in part)
            y1, x1 = (
                min(max(p[0] for p in part) + 1, h - 1),
                min(max(p[1] for p in part) + 1, w - 1),
            )
            for y in range(y0, y1):
                for x in range(x0, x1):
                    mask[y][x] = True
    return mask


def py_refine(cam, attn, iters=3):
    """Sinkhorn (columns, rows) × iters, symmetrize, square, mask columns, multiply by the cam."""
    n = len(attn)
    t = [list(map(float, row)) for row in attn]
    for _ in range(iters):
        for j in range(n):
            s = sum(t[i][j] for i in range(n))
            for i in range(n):
                t[i][j] /= s
        for i in range(n):
            s = sum(t[i])
            t[i] = [v / s for v in t[i]]
    sym = [[(t[i][j] + t[j][i]) / 2 for j in range(n)] for i in range(n)]
    sq = [[sum(sym[i][k] * sym[k][j] for k in range(n)) for j in range(n)] for i in range(n)]
    mask = [m for row in py_box_mask(cam) for m in row]
    flat = [float(v) for row in cam for v in row]
    return [sum(sq[i][j] * mask[j] * flat[j] for j in range(n)) for i in range(n)]


def random_attention(n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(3 * torch.randn(n + 1, n + 1, generator=g, dtype=torch.float64), -1)[
        1:, 1:
    ]


# ---------------------------------------------------------------- tests
def test_is_a_pseudo_label_source(source):
    assert isinstance(source, PseudoLabelSource)
    assert source.class_names == YOUTUBE_OBJECTS_CLASSES and len(source.background_text) == 25
    assert source.input_size == (64, 64) and source.grid_size == (8, 8)
    assert (
        source.mean == open_clip.OPENAI_DATASET_MEAN and source.std == open_clip.OPENAI_DATASET_STD
    )
    assert not source.training and not source.train().training
    assert not any(p.requires_grad for p in source.parameters())
    (weights,) = ClipES.weights_files()
    assert (
        weights.filename == "ViT-B-16.pt"
        and weights.arg == "pretrained"
        and "http" in weights.source
    )


@pytest.mark.parametrize(
    ("pooling", "scale"), [("patch_mean", None), ("cls", None), ("patch_mean", 100.0)]
)
def test_background_softmax_matches_the_encoders(source, images, pooling, scale, monkeypatch):
    monkeypatch.setattr(source, "image_pooling", pooling)
    monkeypatch.setattr(source, "logit_scale", scale)
    model = source.model
    with torch.no_grad():
        if pooling == "cls":
            feats = model.encode_image(images)  # CLIP's own image embedding (class token)
        else:
            x = model.visual.transformer(embed_tokens(model, images))
            feats = layer_norm(x, model.visual.ln_post)[:, 1:].mean(1) @ model.visual.proj
        expected = direct_probs(
            model, feats, LABELS, model.logit_scale.exp() if scale is None else scale
        )
    probs = source.run(images, LABELS).probs
    assert probs.shape == (3, 26)
    torch.testing.assert_close(probs, expected, rtol=1e-4, atol=1e-6)


def test_gradcam_matches_autograd_on_the_last_block(source, images, result):
    model = source.model
    blocks = model.visual.transformer.resblocks
    assert type(blocks[-1].mlp.gelu).__name__ == "QuickGELU"
    with torch.no_grad():
        x = embed_tokens(model, images)
        for blk in blocks[:-1]:
            x = blk(x)
    z = layer_norm(x, blocks[-1].ln_1).detach().requires_grad_(True)
    out = layer_norm(direct_last_block(model, x, z), model.visual.ln_post)
    feats = out[:, 1:].mean(1) @ model.visual.proj
    probs = direct_probs(model, feats, LABELS, model.logit_scale.exp())
    cams = []
    for i in range(len(LABELS)):  # one frame, one backward: no reliance on batching
        (g,) = torch.autograd.grad(probs[i, 0], z, retain_graph=True)
        weights = g[i, 1:].mean(0)
        cam = torch.relu((z[i, 1:] * weights).sum(-1)).detach()
        cams.append((cam - cam.min()) / (cam.max() - cam.min() + 1e-7))
    expected = torch.stack(cams).view(3, 8, 8)
    assert expected.amax() > 0.5  # a real map, not the eps floor
    torch.testing.assert_close(result.cam, expected, rtol=1e-3, atol=1e-4)


def test_attention_matches_multihead_attention_weights(source, images, result):
    model = source.model
    blocks = model.visual.transformer.resblocks
    per_block = []
    with torch.no_grad():
        x = embed_tokens(model, images)
        for i, blk in enumerate(blocks):
            z = blk.ln_1(x)
            _, w = blk.attn(z, z, z, need_weights=True, average_attn_weights=False)
            assert w.shape == (3, 2, 65, 65)
            torch.testing.assert_close(block_attention(blk, z), w.mean(1), rtol=1e-5, atol=1e-6)
            if i >= len(blocks) - 2:
                per_block.append(w.mean(1))
            x = blk(x)
    expected = torch.stack(per_block).mean(0)[:, 1:, 1:]
    torch.testing.assert_close(result.attn, expected, rtol=1e-5, atol=1e-6)


def test_box_mask_matches_connected_component_boxes():
    g = torch.Generator().manual_seed(3)
    cams = [torch.rand(8, 8, generator=g) for _ in range(4)]
    blobs = torch.zeros(8, 8)
    blobs[1:3, 1:3] = 0.9  # one part inside
    blobs[4:8, 5:8] = 1.0  # one touching the right and bottom borders: loses a row and a column
    blobs[0, 7] = 0.5  # a lone pixel on the right border: its box is empty (x1 = min(8, 7) = x0)
    ring = torch.zeros(8, 8)
    ring[1:6, 1:6] = 1.0
    ring[2:5, 2:5] = 0.0  # a hole: contours of the ring and of the hole
    for cam in [*cams, blobs, ring, torch.zeros(8, 8)]:
        expected = torch.tensor(py_box_mask(cam.tolist()))
        assert torch.equal(cam_box_mask(cam, 0.4), expected)
    assert cam_box_mask(blobs).sum() == 4 + 3 * 2 + 0 and not cam_box_mask(torch.zeros(8, 8)).any()


def opencv_box_mask(cam: torch.Tensor, threshold: float = 0.4) -> torch.Tensor:
    """The reference's scoremap2bbox with OpenCV, one frame: every contour's box, exclusive ends."""
    u8 = (cam.float().numpy() * 255).astype(np.uint8)
    binary = (u8 > int(threshold * u8.max())).astype(np.uint8) * 255
    mask = np.zeros(u8.shape, dtype=bool)
    h, w = u8.shape
    for contour in cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[-2]:
        x, y, bw, bh = cv2.boundingRect(contour)
        mask[y : min(y + bh, h - 1), x : min(x + bw, w - 1)] = True
    return torch.from_numpy(mask)


def test_batched_box_masks_are_opencvs_frame_by_frame():
    g = torch.Generator().manual_seed(11)
    smooth = F.avg_pool2d(torch.rand(16, 1, 14, 14, generator=g), 3, 1, 1)[:, 0]
    cams = torch.cat([torch.rand(16, 14, 14, generator=g) ** 3, smooth / smooth.amax((1, 2), keepdim=True)])
    for threshold in (0.2, 0.4, 0.7):
        masks = cam_box_mask(cams, threshold)
        assert masks.shape == cams.shape
        for cam, mask in zip(cams, masks):
            assert torch.equal(mask, opencv_box_mask(cam, threshold))


def test_refinement_on_a_stand_in_gpu_never_waits_for_it(stand_in_cuda):
    """The CUDA test below on every machine: the batched box masks and the attention walk read
    nothing back from the device."""
    g = torch.Generator().manual_seed(12)
    cams = stand_in_cuda.tensor(torch.rand(4, 14, 14, generator=g))
    attn = stand_in_cuda.tensor(torch.softmax(torch.randn(4, 196, 196, generator=g), -1))
    with stand_in_cuda.no_sync():
        masks = cam_box_mask(cams, 0.4)
        refined = refine_cam(cams, attn)
    assert masks.shape == refined.shape == cams.shape and refined.device.type == "cuda"


@pytest.mark.cuda
def test_cuda_refinement_never_waits_for_the_device():
    g = torch.Generator().manual_seed(12)
    cams = torch.rand(4, 14, 14, generator=g).cuda()
    attn = torch.softmax(torch.randn(4, 196, 196, generator=g), -1).cuda()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        refined = refine_cam(cams, attn)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.testing.assert_close(refined.cpu(), refine_cam(cams.cpu(), attn.cpu()), rtol=1e-4, atol=1e-6)


def test_refinement_matches_python_loops(result):
    g = torch.Generator().manual_seed(4)
    cams = [torch.rand(6, 6, generator=g, dtype=torch.float64) for _ in range(2)]
    attns = [random_attention(36, seed) for seed in (5, 6)]
    cams.append(result.cam[1].double())  # and a real stage of the source
    attns.append(result.attn[1].double())
    for cam, attn in zip(cams, attns):
        h, w = cam.shape
        expected = torch.tensor(py_refine(cam.tolist(), attn.tolist()), dtype=torch.float64).view(
            h, w
        )
        got = refine_cam(cam[None].float(), attn[None].float(), 0.4, 3)[0]
        assert expected.abs().amax() > 0
        torch.testing.assert_close(got.double(), expected, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(result.refined, refine_cam(result.cam, result.attn), rtol=0, atol=0)


def test_maps_shape_and_range(source, images, result):
    maps = source(images, LABELS)
    assert maps.shape == (3, 64, 64) and maps.dtype == torch.float32
    assert torch.isfinite(maps).all() and maps.min() >= 0 and maps.max() <= 1
    assert (
        torch.allclose(maps.flatten(1).amax(1), torch.ones(3))
        and (maps.flatten(1).amin(1) == 0).all()
    )
    torch.testing.assert_close(maps, result.maps)
    torch.testing.assert_close(result.probs.sum(-1), torch.ones(3))
    # the reference's last steps: min-max on the grid, cv2 bilinear resize, min-max again
    for m, r in zip(maps, result.refined.numpy()):
        grid = (r - r.min()) / (r.max() - r.min() + 1e-7)
        up = cv2.resize(grid.astype(np.float32), (64, 64), interpolation=cv2.INTER_LINEAR)
        expected = torch.from_numpy((up - up.min()) / (up.max() - up.min()))
        torch.testing.assert_close(m, expected, rtol=1e-5, atol=1e-5)
    for blk in source.model.visual.transformer.resblocks:  # hooks are removed after a pass
        assert not blk.ln_1._forward_hooks
    assert not source.model.visual.ln_post._forward_hooks


def test_batch_invariance_and_inference_mode(source, images, result):
    for i in range(3):
        single = source.run(images[i : i + 1], LABELS[i : i + 1])
        torch.testing.assert_close(single.probs[0], result.probs[i], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(single.cam[0], result.cam[i], rtol=1e-4, atol=1e-5)
        # maps in [0, 1]: the attention refinement and min-max scaling amplify float32 rounding
        # that depends on the batch size (2.4e-5 seen on a CI machine), so 1e-4 of the range
        torch.testing.assert_close(single.maps[0], result.maps[i], rtol=0, atol=1e-4)
    with torch.inference_mode():
        maps = source(images, LABELS.tolist())
    torch.testing.assert_close(maps, result.maps)


def test_pretrained_path_reloads_the_same_model(source, images, result, tmp_path):
    path = tmp_path / "tiny_clip.pt"
    torch.save(source.model.state_dict(), path)
    torch.manual_seed(123)
    reloaded = ClipES(pretrained=str(path), **ARGS)
    torch.testing.assert_close(reloaded.run(images, LABELS).maps, result.maps, rtol=0, atol=1e-6)
    torch.manual_seed(123)
    fresh = ClipES(**ARGS)  # same seed without the file: different weights, different maps
    assert not torch.allclose(fresh.run(images, LABELS).probs, result.probs)


def test_openai_torchscript_archive_gives_the_maps_of_its_state_dict(tmp_path):
    """OpenAI's archive (read without running it) and the same weights as a plain state dict
    give the same maps; the archive's fp16 weights arrive as their fp32 values."""
    from standins import TINY_CLIP, write_openai_clip_torchscript

    written = write_openai_clip_torchscript(tmp_path / "ViT-B-16.pt", TINY_CLIP, seed=7)
    plain = {k: v.float() for k, v in written.items()
             if k not in ("input_resolution", "context_length", "vocab_size")}
    torch.save(plain, tmp_path / "state_dict.pt")
    images = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(8))
    args = dict(model_overrides=TINY_CLIP.overrides(), attn_layers=2, logit_scale=None)
    from_archive = ClipES(pretrained=str(tmp_path / "ViT-B-16.pt"), **args)
    from_state = ClipES(pretrained=str(tmp_path / "state_dict.pt"), **args)
    assert torch.equal(from_archive.model.visual.conv1.weight, written["visual.conv1.weight"].float())
    torch.testing.assert_close(from_archive(images, [2, 4]), from_state(images, [2, 4]), rtol=0, atol=0)


def test_imagenet_norm_switch():
    torch.manual_seed(0)
    src = ClipES(imagenet_norm=True, **ARGS)
    assert src.mean == (0.485, 0.456, 0.406) and src.std == (0.229, 0.224, 0.225)


def test_bad_inputs_are_named(source, images, tmp_path):
    with pytest.raises(ValueError, match="label 10 is not a class id"):
        source(images, torch.tensor([0, 1, 10]))
    with pytest.raises(ValueError, match="images are 32x32 but the source expects 64x64"):
        source(images[..., :32, :32], LABELS)
    with pytest.raises(ValueError, match="3 labels for a batch of 2"):
        source(images[:2], LABELS)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        ClipES(pretrained=str(tmp_path / "missing.pt"), **ARGS)
    with pytest.raises(ValueError, match="template 'origami'"):
        ClipES(template="origami", **ARGS)
    with pytest.raises(ValueError, match="image_pooling 'max'"):
        ClipES(image_pooling="max", **ARGS)


def test_registered_as_clip_es():
    from wsvol.registry import PSEUDO_LABEL_SOURCES

    assert PSEUDO_LABEL_SOURCES.module_dict["clip_es"] is ClipES
