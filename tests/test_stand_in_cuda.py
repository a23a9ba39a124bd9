"""The stand-in CUDA device of tests/stand_in_cuda.py refuses exactly what makes a host wait
for a device, and lets host work and device-side work run."""

import pytest
import torch


def test_every_kind_of_host_sync_is_refused_where_it_happens(stand_in_cuda):
    x = stand_in_cuda.tensor(torch.rand(4, 5))
    syncs = {
        ".item()": lambda: x.sum().item(),
        "float()": lambda: float(x.max()),
        "bool()": lambda: bool((x > 0.5).any()),
        ".tolist()": lambda: x.amax(1).tolist(),
        "a boolean mask": lambda: x[x > 0.5],
        "nonzero": lambda: (x > 0.5).nonzero(),
        "unique": lambda: x.unique(),
        "torch.equal": lambda: torch.equal(x, x),
        "a copy to the host": lambda: x.cpu(),
        "a copy into a host tensor": lambda: torch.empty(4, 5).copy_(x),
        "a blocking copy to the device": lambda: torch.rand(3).to("cuda"),
    }
    for what, sync in syncs.items():
        with stand_in_cuda.no_sync(), pytest.raises(stand_in_cuda.HostSync):
            sync()
            pytest.fail(f"{what} was not refused")
    # torch.tensor copies its data to the device outside the dispatcher: torch's own error
    with stand_in_cuda.no_sync(), pytest.raises(RuntimeError, match="NVIDIA driver"):
        torch.tensor([1.0, 2.0], device="cuda")


def test_device_work_and_host_work_run(stand_in_cuda):
    x = stand_in_cuda.tensor(torch.rand(4, 5))
    host = torch.arange(6.0)
    lin = stand_in_cuda.module(torch.nn.Linear(5, 3))
    g = stand_in_cuda.generator()
    with stand_in_cuda.no_sync():
        y = lin(x).softmax(1).topk(2, dim=1).values
        kth = x.kthvalue(2, dim=1).values
        noise = torch.rand(x.shape, generator=g, device=g.device)
        moved = host.pin_memory().to("cuda", non_blocking=True)
        where = torch.where(x > 0.5, x, noise)
        assert host.sum().item() == 15.0  # host tensors keep their values
    assert y.shape == (4, 2) and y.device.type == "cuda" and kth.shape == (4,)
    assert moved.device.type == "cuda" and where.shape == x.shape
    assert not torch.cuda.is_initialized()
