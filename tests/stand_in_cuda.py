"""A CUDA device on a machine without one, to test that code never makes the host wait for it.

Tensors on the stand-in device are torch's fake tensors (shape, dtype and device, no values);
host tensors stay real and host work runs for real. Inside :meth:`StandInCuda.no_sync`, every
operation that makes the host wait for a CUDA device raises :class:`HostSync` where it is
called: reading a value (``.item()``, ``bool(t)``, ``.tolist()``), an output whose shape depends
on the values (``nonzero``, a boolean mask, ``unique``), a copy to the host, and a copy to the
device that is not ``non_blocking`` (``torch.tensor(data, device="cuda")`` copies outside the
dispatcher and fails with torch's no-driver error instead). Those are what ``torch.cuda.set_sync_debug_mode("error")``
refuses on a real device (the ``cuda`` tests); this runs on every machine. Autograd's backward
needs a real device and is left to those tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch._subclasses.fake_tensor import (
    DataDependentOutputException,
    DynamicOutputShapeException,
    FakeTensor,
    FakeTensorMode,
)
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

DEVICE = torch.device("cuda", 0)
_COPIES = {"aten._to_copy", "aten.copy_"}


class HostSync(RuntimeError):
    """An operation that would make the host wait for the device."""


class _Generator(torch.Generator):
    """A generator that says it lives on the stand-in device (its draws are fake anyway)."""

    @property
    def device(self) -> torch.device:
        return DEVICE


class StandInCuda:
    """Fake CUDA tensors, modules and generators, and the mode that refuses host syncs."""

    HostSync = HostSync

    def __init__(self) -> None:
        self.fake = FakeTensorMode(allow_non_fake_inputs=True)

    def tensor(self, t: torch.Tensor) -> torch.Tensor:
        """A stand-in device copy of host tensor ``t``."""
        with self.fake:
            return self.fake.from_tensor(t).to(DEVICE)

    def module(self, module: torch.nn.Module) -> torch.nn.Module:
        """``module`` with every parameter and buffer moved to the stand-in device, in place."""
        for mod in module.modules():
            for name, p in list(mod._parameters.items()):
                if p is not None:
                    fake = self.tensor(p.detach())
                    mod._parameters[name] = torch.nn.Parameter(fake, p.requires_grad)
            for name, b in list(mod._buffers.items()):
                if b is not None:
                    mod._buffers[name] = self.tensor(b)
        return module

    def generator(self) -> torch.Generator:
        """A generator whose ``device`` is the stand-in device."""
        return _Generator()

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Run the block with every host sync on the stand-in device raising :class:`HostSync`."""
        # torch.cuda would initialize the (absent) driver on a first .to("cuda")
        lazy = torch.cuda._tls
        initializing = hasattr(lazy, "is_initializing")
        lazy.is_initializing = True
        try:
            with _NoSync(self.fake):
                yield
        finally:
            if not initializing:
                del lazy.is_initializing


class _NoSync(TorchDispatchMode):
    def __init__(self, fake: FakeTensorMode) -> None:
        super().__init__()
        self.fake = fake

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        name = str(func.overloadpacket)
        if name in ("aten._pin_memory", "aten.pin_memory"):
            return args[0]  # host work, which needs a driver to pin a real tensor
        if isinstance(kwargs.get("generator"), _Generator):
            kwargs["generator"] = None
        device = kwargs.get("device")
        on_device = any(isinstance(t, FakeTensor) for t in pytree.tree_leaves((args, kwargs))) or (
            device is not None and torch.device(device).type == "cuda"
        )
        if not on_device:
            return func(*args, **kwargs)  # host work, for real
        try:
            with self.fake:
                out = func(*args, **kwargs)
        except (DataDependentOutputException, DynamicOutputShapeException) as e:
            raise HostSync(f"{name} reads values on the device") from e
        if name in _COPIES:
            src, dst = (args[1], args[0]) if name == "aten.copy_" else (args[0], out)
            copy_flag = args[2] if name == "aten.copy_" and len(args) > 2 else False
            non_blocking = kwargs.get("non_blocking", copy_flag)
            if src.device.type == "cuda" and dst.device.type == "cpu":
                raise HostSync(f"{name} copies from the device to the host")
            if src.device.type == "cpu" and dst.device.type == "cuda" and not non_blocking:
                raise HostSync(f"{name} copies from the host to the device without non_blocking")
        return out
