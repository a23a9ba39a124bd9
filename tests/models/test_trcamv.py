"""TrCAM-V: a tiny training step that learns, every loss term, the sampler's (seed, step)
draws, the predict contract, and the frozen parts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper

from wsvol.models.trcamv import TrCAMV

SIZE = 32
TINY_VIT = dict(img_size=SIZE, depth=2, embed_dim=48, num_heads=2, num_last_blocks=2)
ALL_LOSSES = dict(size=dict(loss_weight=0.01), crf=dict(loss_weight=2e-9))


def tiny(**kwargs) -> TrCAMV:
    """A TrCAM-V small enough for a CPU test; the backbone config updates the default (no type)."""
    torch.manual_seed(0)
    kwargs.setdefault("backbone", TINY_VIT)
    kwargs.setdefault("loc_head", dict(widths=(16, 8, 8)))
    return TrCAMV(num_classes=3, **kwargs)


def batch(model: TrCAMV, n: int = 4) -> dict:
    """Frames with a coloured square on a dark ground; the pseudo-map is a blurred, noisy square."""
    g = torch.Generator().manual_seed(1)
    rgb, maps, samples = [], [], []
    for i in range(n):
        y0, x0 = 4 + 3 * i, 6 + 2 * i
        img = torch.full((3, SIZE, SIZE), 30.0)
        img[:, y0 : y0 + 14, x0 : x0 + 12] = torch.tensor([200.0, 120.0, 40.0])[:, None, None]
        rgb.append(img + 5 * torch.rand(3, SIZE, SIZE, generator=g))
        square = torch.zeros(1, 1, SIZE, SIZE)
        square[..., y0 : y0 + 14, x0 : x0 + 12] = 1
        m = F.avg_pool2d(square, 5, 1, 2)[0, 0] * 0.8 + 0.15 * torch.rand(SIZE, SIZE, generator=g)
        maps.append(m.clamp(0, 1))
        samples.append({"frame_id": f"cls/video-{i}/shot-1/frame_{i}.jpg", "gt_label": i % 3,
                        "pseudo_map": maps[-1]})  # fmt: skip
    x = (torch.stack(rgb) / 255 - model.mean) / model.std
    return {"inputs": list(x), "data_samples": samples, "rgb": torch.stack(rgb)}


def data(b: dict) -> dict:
    return {"inputs": b["inputs"], "data_samples": b["data_samples"]}


def total(model: TrCAMV, b: dict, steps=range(1000, 1005)) -> float:
    """Mean total loss over fixed, unseen sampler steps (the same seeds before and after training)."""
    values = []
    for step in steps:
        model.sampler_step_value = step
        with torch.no_grad():
            values.append(float(sum(model(b["inputs"], b["data_samples"], "loss").values())))
    model.sampler_step_value = 0
    return sum(values) / len(values)


def test_a_few_training_steps_lower_the_total_loss_and_touch_only_the_heads():
    model = tiny(losses=ALL_LOSSES, train_cls_head=True, pixel_sampler=dict(k=8)).train()
    b = batch(model)
    frozen = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    decoder = [p.clone() for p in model.loc_head.parameters()]
    params = [p for p in model.parameters() if p.requires_grad]
    assert params and not any(p.requires_grad for p in model.backbone.parameters())
    wrapper = OptimWrapper(torch.optim.SGD(params, lr=0.05, momentum=0.9))

    before = total(model, b)
    logs = [model.train_step(data(b), wrapper) for _ in range(15)]
    after = total(model, b)

    assert set(logs[0]) == {"loss", "loss_pce", "loss_size", "loss_crf", "loss_cls"}
    assert after < 0.7 * before, (before, after)  # measured: 1.75 → 0.82
    assert all(torch.equal(v, frozen[k]) for k, v in model.backbone.state_dict().items())
    assert any(not torch.equal(p, q) for p, q in zip(model.loc_head.parameters(), decoder))


def test_every_term_is_present_finite_and_reaches_only_the_heads():
    model = tiny(losses=ALL_LOSSES, train_cls_head=True).train()
    b = batch(model)
    losses = model(b["inputs"], b["data_samples"], mode="loss")
    assert set(losses) == {"loss_pce", "loss_size", "loss_crf", "loss_cls"}
    assert all(v.ndim == 0 and torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.cls_head.parameters())
    assert all(p.grad is not None for p in model.loc_head.parameters())


@pytest.mark.parametrize(
    ("losses", "expected"),
    [
        (None, {"loss_pce"}),  # the reference run: PCE only
        (dict(size=dict(loss_weight=0.01)), {"loss_pce", "loss_size"}),
        (dict(crf=dict(loss_weight=2e-9), pce=dict(loss_weight=0)), {"loss_crf"}),
        (dict(size=dict(loss_weight=0.01), crf=dict(loss_weight=None), pce=None), {"loss_size"}),
    ],
)
def test_a_weight_of_zero_or_null_disables_a_term(losses, expected):
    model = tiny(losses=losses)
    b = batch(model, n=2)
    assert set(model(b["inputs"], b["data_samples"], mode="loss")) == expected
    assert {f"loss_{k}" for k in model.losses} == expected  # disabled terms are not even built


def test_term_weights_scale_their_terms():
    b = batch(tiny(), n=2)
    light = tiny(losses=dict(size=dict(loss_weight=0.01), crf=dict(loss_weight=1e-9))).eval()
    heavy = tiny(losses=dict(size=dict(loss_weight=0.03), crf=dict(loss_weight=3e-9))).eval()
    lo = light(b["inputs"], b["data_samples"], mode="loss")
    hi = heavy(b["inputs"], b["data_samples"], mode="loss")
    torch.testing.assert_close(hi["loss_size"], 3 * lo["loss_size"])
    torch.testing.assert_close(hi["loss_crf"], 3 * lo["loss_crf"])
    torch.testing.assert_close(hi["loss_pce"], lo["loss_pce"])


def test_pce_is_the_cross_entropy_of_the_decoder_on_the_seeds_of_the_current_step():
    model = tiny().eval()  # eval: the decoder gives the same logits in both calls
    b = batch(model)
    model.sampler_step_value = 7
    seeds = model.sample_seeds(torch.stack([s["pseudo_map"] for s in b["data_samples"]]))
    _, logits = model(b["inputs"], mode="tensor")
    pce = model(b["inputs"], b["data_samples"], mode="loss")["loss_pce"]
    labelled = seeds != -255
    expected = F.cross_entropy(logits.permute(0, 2, 3, 1)[labelled], seeds[labelled])
    torch.testing.assert_close(pce, expected)
    assert int(model.sampler_step) == 8


def test_sampler_draws_depend_only_on_seed_and_step_and_resume_exactly():
    maps = torch.stack([s["pseudo_map"] for s in batch(tiny())["data_samples"]])
    a = tiny(seed=3)
    torch.manual_seed(123)  # the global RNG plays no part
    first = a.sample_seeds(maps)
    torch.manual_seed(456)
    assert torch.equal(a.sample_seeds(maps), first)
    assert torch.equal(tiny(seed=3).sample_seeds(maps, step=0), first)
    assert not torch.equal(tiny(seed=4).sample_seeds(maps, step=0), first)
    draws = [a.sample_seeds(maps, step=s) for s in range(4)]
    assert len({d.numpy().tobytes() for d in draws}) == 4  # redrawn at every step

    b = batch(a)
    for _ in range(3):
        a(b["inputs"], b["data_samples"], mode="loss")
    assert int(a.sampler_step) == 3
    resumed = tiny(seed=3)
    resumed.load_state_dict(a.state_dict())
    assert "sampler_step" in a.state_dict() and int(resumed.sampler_step) == 3
    assert torch.equal(resumed.sample_seeds(maps), draws[3])


def test_predict_keeps_the_data_samples_and_gives_the_contracts_keys():
    model = tiny().eval()
    b = batch(model, n=3)
    out = model.test_step(data(b))
    cls_logits, loc_logits = model(b["inputs"], mode="tensor")
    fg = loc_logits.softmax(1)[:, 1]
    assert len(out) == 3
    for i, (frame, sample) in enumerate(zip(out, b["data_samples"])):
        assert set(frame) == set(sample) | {"cam", "pred_label", "scores", "map_normalization"}
        assert frame["map_normalization"] == "none"  # a probability map, scored as it is
        assert frame["frame_id"] == sample["frame_id"]
        assert frame["cam"].shape == (SIZE, SIZE) and frame["cam"].device.type == "cpu"
        assert 0 <= frame["cam"].min() and frame["cam"].max() <= 1
        torch.testing.assert_close(frame["cam"], fg[i])
        torch.testing.assert_close(frame["scores"], cls_logits[i].softmax(0))
        assert frame["pred_label"] == int(cls_logits[i].argmax())
    assert cls_logits.shape == (3, 3) and loc_logits.shape == (3, 2, SIZE, SIZE)


def test_a_frame_without_pseudo_map_names_the_frame_and_the_missing_cache():
    model = tiny()
    b = batch(model, n=2)
    del b["data_samples"][1]["pseudo_map"]
    with pytest.raises(KeyError, match=r"frame_1\.jpg.*pseudo-label cache is missing"):
        model(b["inputs"], b["data_samples"], mode="loss")
    b["data_samples"][1]["pseudo_map"] = torch.zeros(SIZE, SIZE + 1)
    with pytest.raises(ValueError, match=r"frame_1\.jpg.*pseudo_map of shape \(32, 33\)"):
        model(b["inputs"], b["data_samples"], mode="loss")


def test_the_crf_sees_the_frames_in_0_255_rgb():
    model = tiny(losses=dict(crf=dict(loss_weight=2e-9)))
    b = batch(model, n=2)
    seen = {}
    model.losses["crf"].register_forward_pre_hook(
        lambda mod, args, kwargs: seen.update(kwargs), with_kwargs=True
    )
    model(b["inputs"], b["data_samples"], mode="loss")
    torch.testing.assert_close(seen["images"], b["rgb"], atol=1e-3, rtol=1e-5)


@pytest.mark.parametrize("frozen", [True, False])
def test_frozen_backbone_runs_without_autograd_and_a_trainable_one_with_it(frozen):
    model = tiny(backbone={**TINY_VIT, "frozen": frozen}).train()
    grad_enabled = []
    model.backbone.register_forward_hook(lambda *_: grad_enabled.append(torch.is_grad_enabled()))
    b = batch(model, n=2)
    sum(model(b["inputs"], b["data_samples"], mode="loss").values()).backward()
    assert grad_enabled == [not frozen]
    assert any(p.grad is not None for p in model.backbone.parameters()) == (not frozen)


def test_an_untrained_cls_head_is_frozen_and_loads_from_a_checkpoint(tmp_path):
    model = tiny()
    assert not any(p.requires_grad for p in model.cls_head.parameters())
    weight = torch.randn_like(model.cls_head.linear.weight)
    bias = torch.randn_like(model.cls_head.linear.bias)
    probe = tmp_path / "probe.pth"  # a DDP-saved linear probe, as DINO's eval_linear writes it
    torch.save({"state_dict": {"module.linear.weight": weight, "module.linear.bias": bias}}, probe)
    loaded = tiny(cls_head_checkpoint=str(probe))
    assert torch.equal(loaded.cls_head.linear.weight, weight)
    assert torch.equal(loaded.cls_head.linear.bias, bias)
    assert not loaded.train().cls_head.training

    whole = tmp_path / "trcamv.pth"  # a whole TrCAM-V checkpoint: its cls_head.* keys are used
    torch.save({"state_dict": loaded.state_dict()}, whole)
    assert torch.equal(tiny(cls_head_checkpoint=str(whole)).cls_head.linear.weight, weight)

    bad = tmp_path / "bad.pth"
    torch.save({"linear.weight": torch.zeros(5, 96)}, bad)
    with pytest.raises(ValueError, match=r"(?s)bad\.pth.*shape"):
        tiny(cls_head_checkpoint=str(bad))


def test_config_errors_are_named():
    with pytest.raises(ValueError, match="ignore_index=-100 differs"):
        tiny(losses=dict(pce=dict(ignore_index=-100)))
    with pytest.raises(ValueError, match="losses.extra has no 'type'"):
        tiny(losses=dict(extra=dict(loss_weight=1.0)))
    with pytest.raises(ValueError, match="'cls'"):
        tiny(losses=dict(cls=dict(type="partial_ce")))
    with pytest.raises(ValueError, match="unknown forward mode 'logits'"):
        tiny()(torch.zeros(1, 3, SIZE, SIZE), mode="logits")


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_cuda_amp_training_lowers_the_loss_and_predicts_on_the_cpu(dtype):
    """The --amp path (mmengine's AmpOptimWrapper): finite terms in mixed precision, a loss that
    falls as on the CPU, a float32 CRF, and predictions handed back on the CPU."""
    from mmengine.optim import AmpOptimWrapper

    model = tiny(losses=ALL_LOSSES, train_cls_head=True, pixel_sampler=dict(k=8))
    b = batch(model)
    model.cuda().train()
    gpu = {"inputs": [x.cuda() for x in b["inputs"]],
           "data_samples": [{**s, "pseudo_map": s["pseudo_map"].cuda()} for s in b["data_samples"]]}  # fmt: skip
    params = [p for p in model.parameters() if p.requires_grad]
    wrapper = AmpOptimWrapper(optimizer=torch.optim.SGD(params, lr=0.05, momentum=0.9), dtype=dtype)
    before = total(model, gpu)
    logs = [model.train_step(gpu, wrapper) for _ in range(15)]
    after = total(model, gpu)
    assert all(torch.isfinite(v) for log in logs for v in log.values())
    assert after < 0.7 * before, (before, after)
    with torch.autocast("cuda", dtype=getattr(torch, dtype)):
        terms = model(gpu["inputs"], gpu["data_samples"], mode="loss")
    assert terms["loss_crf"].dtype == torch.float32
    out = model.eval().test_step(gpu)
    assert out[0]["cam"].device.type == "cpu" and out[0]["cam"].shape == (SIZE, SIZE)


def test_a_training_step_on_a_stand_in_gpu_never_waits_for_it(stand_in_cuda, monkeypatch):
    """The CUDA test below on every machine, up to the backward: the pseudo-maps' transfer, the
    sampler and every loss but the CRF read nothing back from the device."""
    model = tiny(losses=dict(size=dict(loss_weight=0.01)), train_cls_head=True, pixel_sampler=dict(k=4))
    b = batch(model)
    stand_in_cuda.module(model.train())
    monkeypatch.setattr(model, "sampler_generator", lambda step, device: stand_in_cuda.generator())
    x = stand_in_cuda.tensor(torch.stack(b["inputs"]))
    on_device = [{**s, "pseudo_map": stand_in_cuda.tensor(s["pseudo_map"])} for s in b["data_samples"]]
    model.sampler_step_value = 5
    with stand_in_cuda.no_sync():
        for samples in (b["data_samples"], on_device):  # maps from the loader, or already there
            terms = model(x, samples, mode="loss")
            assert set(terms) == {"loss_pce", "loss_size", "loss_cls"}
            assert all(t.device.type == "cuda" and t.shape == () for t in terms.values())
    # the same step with a host read in it is refused: the check can fail
    monkeypatch.setattr(model.pixel_sampler, "_roi", lambda maps: maps > maps.mean().item())
    with stand_in_cuda.no_sync(), pytest.raises(stand_in_cuda.HostSync, match="reads values"):
        model(x, on_device, mode="loss")


@pytest.mark.cuda
def test_cuda_training_step_never_waits_for_the_device():
    """Pseudo-maps come from the loader on the host; the step (sampling, every loss but the CRF,
    backward, SGD update) runs with every host-device sync turned into an error."""
    model = tiny(losses=dict(size=dict(loss_weight=0.01)), train_cls_head=True, pixel_sampler=dict(k=4))
    b = batch(model)
    model.cuda().train()
    x = torch.stack(b["inputs"]).cuda()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.05, momentum=0.9)
    model.sampler_step_value = 5
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(2):
            terms = model(x, b["data_samples"], mode="loss")
            optimizer.zero_grad()
            sum(terms.values()).backward()
            optimizer.step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert set(terms) == {"loss_pce", "loss_size", "loss_cls"}
    assert int(model.sampler_step) == 7 and model.sampler_step.device.type == "cuda"
    # the seeds of a step are those of the sampler on the device with the (seed, step) generator
    maps = torch.stack([s["pseudo_map"] for s in b["data_samples"]]).cuda()
    expected = model.pixel_sampler(maps, model.sampler_generator(7, "cuda"))
    assert torch.equal(model.sample_seeds(maps), expected)
