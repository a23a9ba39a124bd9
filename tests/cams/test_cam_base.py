"""The shared machinery: normalization, upsampling, targets, batching, grad modes, errors."""

from __future__ import annotations

import pytest
import timm
import torch
from torch import nn

from wsvol.cams import CAM, GradCAM, build_cam, minmax_normalize
from wsvol.cams.base import get_layer

NAMES = ["cam", "gradcam", "gradcampp", "smooth_gradcampp", "xgradcam", "layercam"]


def test_minmax_normalize_hand_cases():
    maps = torch.tensor([[[1.0, 3.0], [5.0, 9.0]],   # → (x - 1) / 8
                         [[2.0, 2.0], [2.0, 2.0]],   # constant → zeros
                         [[-4.0, 0.0], [4.0, -4.0]]])
    want = torch.tensor([[[0.0, 0.25], [0.5, 1.0]],
                         [[0.0, 0.0], [0.0, 0.0]],
                         [[0.0, 0.5], [1.0, 0.0]]])
    torch.testing.assert_close(minmax_normalize(maps), want)
    broken = torch.tensor([[[0.0, float("nan")], [1.0, 2.0]]])  # not zeros: the evaluation must see it
    assert torch.isnan(minmax_normalize(broken)).all()


def test_upsampling_is_bilinear_half_pixel_then_normalized():
    # target layer = 2x2 average pooling of a 4x4 input; CAM with head weights (1, 0, 0) → the
    # raw map is the pooled channel 0, known by hand
    model = nn.Sequential(nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 2))
    with torch.no_grad():
        model[3].weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
        model[3].bias.zero_()
    x = torch.zeros(1, 3, 4, 4)
    x[0, 0] = torch.tensor([[0.0, 0, 2, 2], [0, 0, 2, 2], [4, 4, 6, 6], [4, 4, 6, 6]])
    raw = torch.tensor([[0.0, 2.0], [4.0, 6.0]])
    cam = CAM(model, "0", fc="3")
    torch.testing.assert_close(cam.raw(x, targets=0)[0][0], raw)
    # align_corners=False, 2 → 4: output samples sit at source coords -.25, .25, .75, 1.25 (clamped)
    up = torch.tensor([[1.0, 0.0], [0.75, 0.25], [0.25, 0.75], [0.0, 1.0]])
    want = up @ raw @ up.T
    want = (want - want.min()) / (want.max() - want.min())
    maps, logits = cam(x, targets=0)
    torch.testing.assert_close(maps[0], want)
    assert maps.shape == (1, 4, 4) and logits.shape == (1, 2)
    same, _ = cam(x, targets=0, size=(2, 2))  # identity size: no interpolation
    torch.testing.assert_close(same[0], raw / 6)


@pytest.mark.parametrize("name", NAMES)
def test_maps_do_not_depend_on_the_batch(name, deepnet, images):
    kwargs = {"sigma": 0.0, "n": 2} if name == "smooth_gradcampp" else {}  # noise is drawn per batch
    layer = "conv2" if name == "cam" else "act"  # CAM needs the maps the linear head pools
    cam = build_cam(dict(type=name, **kwargs), deepnet, layer)
    batch, logits = cam(images)
    for i in range(len(images)):
        alone, alone_logits = cam(images[i:i + 1])
        torch.testing.assert_close(alone[0], batch[i], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(alone_logits[0], logits[i], rtol=1e-5, atol=1e-6)


def test_batch_invariance_on_a_timm_resnet():
    model = timm.create_model("resnet18", num_classes=5, output_stride=8).eval()
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    cam = build_cam("gradcampp", model, "layer4")
    batch, _ = cam(x)
    alone, _ = cam(x[2:3])
    torch.testing.assert_close(alone[0], batch[2], rtol=1e-4, atol=1e-5)
    assert cam.raw(x)[0].shape == (4, 4, 4)  # output stride 8


def test_targets_default_to_the_predicted_class(deepnet, images):
    cam = GradCAM(deepnet, "act")
    predicted = deepnet(images).argmax(1)
    torch.testing.assert_close(cam(images)[0], cam(images, targets=predicted)[0])
    torch.testing.assert_close(cam(images, targets=1)[0], cam(images, targets=[1] * 4)[0])
    with pytest.raises(ValueError, match="target class 3 is out of range for a model with 3 classes"):
        cam(images, targets=3)
    with pytest.raises(ValueError, match="got 2 targets for a batch of 4"):
        cam(images, targets=[0, 1])


@pytest.mark.parametrize("name", NAMES)
def test_no_grad_callers_frozen_models_and_untouched_grads(name, gapnet, images):
    cam = build_cam(name, gapnet, "act")
    want, _ = cam(images)
    with torch.no_grad():  # e.g. mmengine's val loop
        got, logits = cam(images)
    torch.testing.assert_close(got, want)
    assert not logits.requires_grad and not got.requires_grad
    assert all(p.grad is None for p in gapnet.parameters())  # training state left alone
    if name != "cam":  # CAM needs no gradients, so it also runs in inference mode
        with torch.inference_mode(), pytest.raises(RuntimeError, match="not torch.inference_mode"):
            cam(images)
    for p in gapnet.parameters():  # a frozen backbone still gets maps
        p.requires_grad_(False)
    torch.testing.assert_close(cam(images)[0], want)


def test_layer_names_and_errors(deepnet, images):
    seq = nn.Sequential(nn.Conv2d(3, 2, 1), nn.Sequential(nn.ReLU(), nn.Identity()))
    assert get_layer(seq, "1.-1") is seq[1][1] and get_layer(seq, "0") is seq[0]
    with pytest.raises(ValueError, match="has no submodule 'ac'; did you mean 'act'"):
        GradCAM(deepnet, "ac")
    with pytest.raises(ValueError, match="target layer '1.5'"):
        get_layer(seq, "1.5")
    unused = nn.Conv2d(3, 3, 1)
    deepnet.unused = unused
    with pytest.raises(RuntimeError, match="was not called by the model's forward"):
        GradCAM(deepnet, unused)(images)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\) tensor"):
        GradCAM(deepnet, "act")(images[0])
    with pytest.raises(ValueError, match="has no 'type'"):
        build_cam({"n": 3}, deepnet, "act")


def test_build_cam_passes_arguments(deepnet, images):
    cam = build_cam(dict(type="smooth_gradcampp", n=5, sigma=0.1, seed=None), deepnet, target_layer="act")
    assert (cam.n, cam.sigma, cam.seed) == (5, 0.1, None)
    cam = build_cam(dict(type="layercam", target_layer="act"), deepnet)
    assert cam.target_layer is deepnet.act
    with pytest.raises(TypeError, match="CAM method 'gradcam' \\(GradCAM\\):.*'sigma'"):
        build_cam(dict(type="gradcam", sigma=0.1), deepnet, "act")
