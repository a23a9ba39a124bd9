"""Each CAM method against an independent computation at the feature-map resolution."""

from __future__ import annotations

import pytest
import torch

from wsvol.cams import CAM, GradCAM, GradCAMpp, LayerCAM, SmoothGradCAMpp, XGradCAM, build_cam
from wsvol.registry import CAM_METHODS

NAMES = ["cam", "gradcam", "gradcampp", "smooth_gradcampp", "xgradcam", "layercam"]


def gradients(net, x, targets=None):
    """A, ∂y_c/∂A and targets by autograd on the functional form of ``net``."""
    a = net.features(x).detach().requires_grad_(True)
    logits = net.head(a)
    t = logits.argmax(1) if targets is None else torch.as_tensor(targets)
    (g,) = torch.autograd.grad(logits[torch.arange(len(x)), t].sum(), a)
    return a.detach(), g, t


def loop_gradcampp_weights(a, g):
    """GradCAM++ weights of one frame (K, h, w), position by position."""
    out = torch.zeros(a.shape[0], dtype=torch.float64)
    for k in range(a.shape[0]):
        total = a[k].double().sum()
        for gij in g[k].double().flatten():
            denom = 2 * gij**2 + total * gij**3
            alpha = gij**2 / denom if denom != 0 else 0.0
            out[k] += alpha * max(gij, 0.0)
    return out


def loop_xgradcam_weights(a, g):
    out = torch.zeros(a.shape[0], dtype=torch.float64)
    for k in range(a.shape[0]):
        total = a[k].double().sum()
        for aij, gij in zip(a[k].double().flatten(), g[k].double().flatten()):
            out[k] += aij / total * gij if total != 0 else 0.0
    return out


def weighted_sum(w, a):
    return sum(w[k] * a[k].double() for k in range(a.shape[0]))


def test_registered_names():
    assert {n: CAM_METHODS.module_dict[n] for n in NAMES} == {
        "cam": CAM, "gradcam": GradCAM, "gradcampp": GradCAMpp, "smooth_gradcampp": SmoothGradCAMpp,
        "xgradcam": XGradCAM, "layercam": LayerCAM}


# -- GAP + linear network: ∂y_c/∂A_k = w_ck / (h·w) exactly ------------------------------------
@pytest.mark.parametrize("targets", [None, [0, 1, 2, 0]])
def test_gapnet_closed_forms(gapnet, images, targets):
    a = gapnet.features(images).double()
    hw = a.shape[2] * a.shape[3]
    t = gapnet(images).argmax(1) if targets is None else torch.tensor(targets)
    w = gapnet.fc.weight.detach().double()[t]  # (B, K)
    g = w / hw  # hand-derived gradient, constant over positions
    cam = torch.einsum("bk,bkhw->bhw", w, a)
    total = a.sum(dim=(2, 3))  # (B, K), all > 0 here
    assert (total > 0).all()
    pp = torch.where(g != 0, hw * g.clamp_min(0) / (2 + total * g), 0.0)  # α = 1/(2 + S·g)
    expected = {
        "cam": cam,
        "gradcam": torch.einsum("bk,bkhw->bhw", g, a).clamp_min(0),
        "gradcampp": torch.einsum("bk,bkhw->bhw", pp, a).clamp_min(0),
        "xgradcam": torch.einsum("bk,bkhw->bhw", g, a).clamp_min(0),  # Σ (A/ΣA)·g = g
        "layercam": torch.einsum("bk,bkhw->bhw", g.clamp_min(0), a).clamp_min(0),
    }
    for name, want in expected.items():
        got, logits = build_cam(name, gapnet, "act").raw(images, targets)
        torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-6, msg=name)
        torch.testing.assert_close(logits, gapnet(images).detach())


def test_gapnet_gradcam_is_relu_cam_scaled(gapnet, images):
    cam, _ = CAM(gapnet, "act").raw(images)
    grad, _ = GradCAM(gapnet, "act").raw(images)
    hw = cam.shape[1] * cam.shape[2]
    torch.testing.assert_close(grad * hw, cam.clamp_min(0), rtol=1e-5, atol=1e-6)
    # class 2 has only positive head weights: no ReLU effect, normalized maps coincide
    cam_n, _ = CAM(gapnet, "act")(images, targets=2)
    grad_n, _ = GradCAM(gapnet, "act")(images, targets=2)
    torch.testing.assert_close(cam_n, grad_n, rtol=1e-5, atol=1e-5)


def test_layercam_equals_gradcam_for_positive_constant_gradients(gapnet, images):
    assert (gapnet.fc.weight[2] > 0).all()  # class 2 → gradients positive and spatially constant
    layer, _ = LayerCAM(gapnet, "act").raw(images, targets=2)
    grad, _ = GradCAM(gapnet, "act").raw(images, targets=2)
    hw = layer.shape[1] * layer.shape[2]
    # GradCAM's weight is the mean gradient g; LayerCAM's position weight is g itself
    torch.testing.assert_close(layer, grad, rtol=1e-5, atol=1e-7)
    assert layer.abs().sum() > 0 and hw > 1


# -- a network where gradients vary over positions: autograd on a functional formula ---------
@pytest.mark.parametrize("targets", [None, 1])
def test_deepnet_against_autograd(deepnet, images, targets):
    a, g, t = gradients(deepnet, images, None if targets is None else [targets] * len(images))
    assert g[0, 0].std() > 0  # the case is not trivially constant
    refs = {"gradcam": lambda a, g: weighted_sum(g.double().mean(dim=(1, 2)), a),
            "gradcampp": lambda a, g: weighted_sum(loop_gradcampp_weights(a, g), a),
            "xgradcam": lambda a, g: weighted_sum(loop_xgradcam_weights(a, g), a),
            "layercam": lambda a, g: (g.double().clamp_min(0) * a.double()).sum(0)}
    for name, ref in refs.items():
        got, _ = build_cam(name, deepnet, "act").raw(images, targets)
        want = torch.stack([ref(a[i], g[i]) for i in range(len(images))]).clamp_min(0)
        torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=1e-7, msg=name)


def test_smooth_gradcampp_against_autograd(deepnet, images):
    n, sigma, seed = 3, 0.5, 11
    smooth = SmoothGradCAMpp(deepnet, "act", n=n, sigma=sigma, seed=seed)
    a, _, t = gradients(deepnet, images)
    grads = [gradients(deepnet, images + sigma * noise, t)[1].double() for noise in smooth.noise(images)]
    g1, g2, g3 = (sum(g**p for g in grads) / n for p in (1, 2, 3))
    want = []
    for i in range(len(images)):
        total = a[i].double().sum(dim=(1, 2), keepdim=True)
        denom = 2 * g2[i] + total * g3[i]
        alpha = torch.where(denom != 0, g2[i] / denom, 0.0)
        want.append(weighted_sum((alpha * g1[i].clamp_min(0)).sum(dim=(1, 2)), a[i]).clamp_min(0))
    got, logits = smooth.raw(images)
    torch.testing.assert_close(got.double(), torch.stack(want), rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(logits, deepnet(images).detach())  # the clean forward's logits


def test_smooth_gradcampp_determinism_and_limits(deepnet, images):
    smooth = SmoothGradCAMpp(deepnet, "act", n=2, sigma=0.5, seed=3)
    first, second = smooth(images)[0], smooth(images)[0]
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    other = SmoothGradCAMpp(deepnet, "act", n=2, sigma=0.5, seed=4)(images)[0]
    assert not torch.allclose(first, other)
    gen_maps = [SmoothGradCAMpp(deepnet, "act", n=2, sigma=0.5, generator=torch.Generator().manual_seed(3))(images)[0]
                for _ in range(2)]
    torch.testing.assert_close(gen_maps[0], gen_maps[1], rtol=0, atol=0)  # the generator's stream, from its seed
    assert not torch.allclose(gen_maps[0], first)
    # without noise, the average of identical copies is GradCAM++ itself
    plain, _ = GradCAMpp(deepnet, "act").raw(images)
    no_noise, _ = SmoothGradCAMpp(deepnet, "act", n=3, sigma=0.0).raw(images)
    torch.testing.assert_close(no_noise, plain, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="n=0"):
        SmoothGradCAMpp(deepnet, "act", n=0)
    with pytest.raises(ValueError, match="sigma=-1"):
        SmoothGradCAMpp(deepnet, "act", sigma=-1)


@pytest.mark.parametrize("frames", [1, 2])
def test_smooth_gradcampp_copies_share_passes(deepnet, images, frames):
    """Noisy copies stacked into one pass give the maps of one pass per copy; a pass holds at
    most max(B, pass_frames) frames."""
    x = images[:frames]
    sizes = []
    handle = deepnet.act.register_forward_hook(lambda module, inputs, output: sizes.append(len(output)))
    try:
        one_each = SmoothGradCAMpp(deepnet, "act", n=5, sigma=0.5, seed=2, pass_frames=1)(x)[0]
        assert sizes == [frames] * 6  # the clean pass and one pass per copy
        sizes.clear()
        stacked = SmoothGradCAMpp(deepnet, "act", n=5, sigma=0.5, seed=2, pass_frames=4)(x)[0]
    finally:
        handle.remove()
    per_pass = 4 // frames
    assert sizes == [frames] + [frames * min(per_pass, 5 - k) for k in range(0, 5, per_pass)]
    assert max(sizes) <= max(frames, 4)
    torch.testing.assert_close(stacked, one_each, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="pass_frames=0"):
        SmoothGradCAMpp(deepnet, "act", pass_frames=0)


def test_smooth_gradcampp_noise_is_per_frame(deepnet, images):
    """A frame's map does not depend on the batch it is in: alone, in batches of other sizes, at
    other positions (a resumed pseudo-label run with another batch_size gives the same maps)."""
    smooth = SmoothGradCAMpp(deepnet, "act", n=3, sigma=0.5, seed=5)
    whole = smooth(images)[0]
    assert len(images) >= 4
    for i in range(len(images)):
        torch.testing.assert_close(smooth(images[i : i + 1])[0][0], whole[i], rtol=1e-5, atol=1e-6)
    order = torch.arange(len(images)).flip(0)  # reversed, in batches of 3 and the rest
    parts = [smooth(images[order[k : k + 3]])[0] for k in range(0, len(images), 3)]
    torch.testing.assert_close(torch.cat(parts)[order.argsort()], whole, rtol=1e-5, atol=1e-6)
    # the noise is each frame's own: copies differ, frames differ, and each is standard normal
    noise = torch.stack(smooth.noise(images))  # (n, B, C, H, W)
    assert not torch.equal(noise[0, 0], noise[1, 0]) and not torch.equal(noise[0, 0], noise[0, 1])
    twin = torch.stack(smooth.noise(images[1:2].clone()))
    torch.testing.assert_close(twin[:, 0], noise[:, 1], rtol=0, atol=0)
    assert abs(float(noise.mean())) < 0.05 and abs(float(noise.std()) - 1) < 0.05


def test_cam_head_weights_sources(gapnet, deepnet, images):
    want, _ = CAM(gapnet, "act").raw(images)  # timm-style get_classifier()
    torch.testing.assert_close(want, torch.einsum("bk,bkhw->bhw", gapnet.fc.weight[gapnet(images).argmax(1)],
                                                  gapnet.features(images)).detach())
    for fc in ("fc", gapnet.fc):
        torch.testing.assert_close(CAM(gapnet, "act", fc=fc).raw(images)[0], want)
    gapnet.cam_weights = lambda: gapnet.fc.weight * 2  # a classifier's own weights win
    torch.testing.assert_close(CAM(gapnet, "act").raw(images, targets=0)[0],
                               2 * CAM(gapnet, "act", fc="fc").raw(images, targets=0)[0])
    with pytest.raises(ValueError, match="5 inputs but target layer 'act' has 4 channels"):
        CAM(deepnet, "act").raw(images)
    plain = torch.nn.Sequential(deepnet.conv, torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                                torch.nn.Flatten(), torch.nn.Linear(4, 3))
    with pytest.raises(ValueError, match="no cam_weights"):
        CAM(plain, "1").raw(images)


@pytest.mark.cuda
@pytest.mark.parametrize("name", NAMES)
def test_cuda_maps_equal_the_cpu_maps(deepnet, images, name):
    cpu, _ = build_cam(name, deepnet, "act").raw(images, None)
    net = deepnet.cuda()
    try:
        gpu, _ = build_cam(name, net, "act").raw(images.cuda(), None)
    finally:
        deepnet.cpu()
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu().double(), cpu.double(), rtol=1e-4, atol=1e-6)

