"""CAMs on timm ViTs: patch tokens go back on the grid with the model's own prefix and grid size."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import timm
import torch

from wsvol.cams import build_cam, tokens_to_grid


def test_tokens_to_grid_by_index():
    vit = SimpleNamespace(num_prefix_tokens=2, patch_embed=SimpleNamespace(grid_size=(2, 3)))
    tokens = torch.arange(2 * 8 * 4, dtype=torch.float32).reshape(2, 8, 4)  # 2 prefix + 6 patches
    grid = tokens_to_grid(tokens, vit, (32, 48))
    assert grid.shape == (2, 4, 2, 3)
    for b in range(2):
        for i in range(2):
            for j in range(3):  # row-major patches after the prefix tokens
                assert torch.equal(grid[b, :, i, j], tokens[b, 2 + i * 3 + j])
    with pytest.raises(ValueError, match="7 tokens minus 2 prefix tokens do not fill the 2x3 patch grid"):
        tokens_to_grid(tokens[:, :7], vit, (32, 48))


# (timm kwargs, input (H, W), number of prefix tokens and patch size as built, independently of timm)
CASES = [
    (dict(img_size=64), (64, 64), 1, 16),
    (dict(img_size=(64, 96), patch_size=8, reg_tokens=4), (64, 96), 5, 8),
    (dict(img_size=64, class_token=False, global_pool="avg"), (64, 64), 0, 16),
    (dict(img_size=64, dynamic_img_size=True), (96, 64), 1, 16),  # another input size
]


@pytest.mark.parametrize(("kwargs", "size", "prefix", "patch"), CASES)
def test_gradcam_on_vit_against_manual_reshape(kwargs, size, prefix, patch):
    torch.manual_seed(0)
    vit = timm.create_model("vit_tiny_patch16_224", pretrained=False, depth=2, num_classes=3, **kwargs).eval()
    x = torch.randn(2, 3, *size)
    gh, gw = size[0] // patch, size[1] // patch
    # independent path: our own hook, autograd, explicit token → (i, j) placement
    store = {}
    handle = vit.blocks[-1].norm1.register_forward_hook(lambda m, i, o: store.setdefault("t", o))
    logits = vit(x)
    handle.remove()
    tokens = store["t"]
    assert tokens.shape[1] == prefix + gh * gw
    (g,) = torch.autograd.grad(logits.gather(1, logits.argmax(1, keepdim=True)).sum(), tokens)
    want = torch.zeros(2, gh, gw)
    for i in range(gh):
        for j in range(gw):
            t = prefix + i * gw + j
            w = g[:, prefix:].mean(1)  # GradCAM weight per channel: mean over patch positions
            want[:, i, j] = (w * tokens[:, t]).sum(-1)
    got, got_logits = build_cam("gradcam", vit, "blocks.-1.norm1").raw(x)
    torch.testing.assert_close(got, want.clamp_min(0).detach(), rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(got_logits, logits.detach(), rtol=1e-5, atol=1e-6)
    maps, _ = build_cam("layercam", vit, "blocks.-1.norm1")(x)
    assert maps.shape == (2, *size) and maps.min() >= 0 and maps.max() <= 1


def test_vit_inside_a_wrapper_and_custom_reshape():
    vit = timm.create_model("vit_tiny_patch16_224", pretrained=False, depth=2, num_classes=3, img_size=32).eval()
    wrapper = torch.nn.Sequential(torch.nn.Identity(), vit)  # the ViT is found among submodules
    x = torch.randn(1, 3, 32, 32)
    auto, _ = build_cam("gradcampp", wrapper, "1.blocks.0.norm1").raw(x)
    custom, _ = build_cam("gradcampp", wrapper, "1.blocks.0.norm1",
                          reshape=lambda t, size: t[:, 1:].transpose(1, 2).reshape(1, -1, 2, 2)).raw(x)
    torch.testing.assert_close(auto, custom)
    with pytest.raises(ValueError, match="no timm ViT was found"):
        build_cam("gradcam", torch.nn.Sequential(torch.nn.Flatten(2), torch.nn.Flatten(1),
                                                 torch.nn.Linear(3 * 4, 2)), "0").raw(torch.randn(1, 3, 2, 2))
