"""Read the tensors of a TorchScript archive without ``torch.jit.load`` and without running code.

OpenAI publishes CLIP (``ViT-B-16.pt``) as a TorchScript archive, a zip holding

    <name>/data.pkl          the module tree, pickled by TorchScript's C++ pickler (protocol 2)
    <name>/data/<key>        one raw little-endian storage per key
    <name>/constants.pkl     tensors baked into the traced graph
    <name>/code/__torch__/…  the TorchScript source of every class
    <name>/version, …

``torch.load(weights_only=True)`` refuses such a zip, and ``torch.jit.load`` compiles and runs
the archive's code. This module unpickles ``data.pkl`` with a restricted ``pickle.Unpickler``
(Python's documented "restricting globals" pattern): ``find_class`` returns only objects
defined here — a tensor rebuild that checks its arguments, a non-callable dtype marker per
storage type, ``OrderedDict``, identity functions for TorchScript's typed lists, and for each
``__torch__.*`` name a method-less stand-in class that only keeps its attribute dict. Every other
global raises. ``persistent_load`` accepts only storage records, read from the zip (stored, size
checked). ``code/`` and ``constants.pkl`` are never read. Pickle calls nothing but what these two
hand it, so the only code an archive can reach is this module's.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path

import torch

MAX_PICKLE_BYTES = 64 << 20  # data.pkl of CLIP ViT-B/16 is ~40 kB

_STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "HalfStorage": torch.float16, "BFloat16Storage": torch.bfloat16,
    "DoubleStorage": torch.float64, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}  # fmt: skip


class TorchScriptArchiveError(ValueError):
    """A file that is not a TorchScript archive this reader accepts, or that tries to run code."""


class _DtypeMarker:
    """What ``torch.<X>Storage`` resolves to: a dtype, not a callable."""

    __slots__ = ("dtype",)

    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype


class ScriptObject:
    """Stand-in for a ``__torch__.*`` class: no methods; BUILD only stores the attribute dict."""

    ts_type = "__torch__"

    def __init__(self, *args, **kwargs) -> None:  # only NEWOBJ (cls.__new__) may create one
        raise pickle.UnpicklingError(f"{self.ts_type}: calling a TorchScript class is not allowed")

    def __setstate__(self, state) -> None:
        if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
            raise pickle.UnpicklingError(f"{self.ts_type}: state is not a dict of attributes")
        self.__dict__["_ts_state"] = state

    @property
    def attributes(self) -> dict:
        """The module's attributes (parameters, buffers, submodules, flags) by name."""
        return self.__dict__.get("_ts_state", {})


def _typed_list(kind: type):
    """TorchScript's ``build_<kind>list``: returns its list argument once its items are checked."""

    def build(items):
        if not isinstance(items, list) or not all(isinstance(i, kind) for i in items):
            raise pickle.UnpicklingError(f"a typed list that does not hold {kind.__name__}s")
        return items

    return build


def _restore_type_tag(value, type_str):
    """TorchScript's ``restore_type_tag``: the value itself (the tag only names its static type)."""
    if not isinstance(type_str, str) or not isinstance(value, (list, dict)):
        raise pickle.UnpicklingError("bad type tag")
    return value


_JIT_PICKLE = {
    "build_intlist": _typed_list(int), "build_doublelist": _typed_list(float),
    "build_boollist": _typed_list(bool), "build_tensorlist": _typed_list(torch.Tensor),
    "restore_type_tag": _restore_type_tag,
}  # fmt: skip


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(io.BytesIO(data))
        self._archive = archive
        self._prefix = prefix
        self._storages: dict[str, torch.Tensor] = {}
        self._classes: dict[str, type] = {}

    def find_class(self, module: str, name: str):  # noqa: D102
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return self._rebuild_tensor
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch" and name in _STORAGE_DTYPES:
            return _DtypeMarker(_STORAGE_DTYPES[name])
        if module == "torch.jit._pickle" and name in _JIT_PICKLE:
            return _JIT_PICKLE[name]
        if (module == "__torch__" or module.startswith("__torch__.")) and name.isidentifier():
            qual = f"{module}.{name}"
            if qual not in self._classes:
                self._classes[qual] = type(name, (ScriptObject,), {"ts_type": qual, "__slots__": ()})
            return self._classes[qual]
        raise pickle.UnpicklingError(f"refused global {module}.{name}: not a tensor or module record")

    def persistent_load(self, pid):  # noqa: D102
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"refused persistent id {pid!r}")
        _, marker, key, _location, numel = pid
        if not isinstance(marker, _DtypeMarker) or not isinstance(key, str) or not key.isdigit():
            raise pickle.UnpicklingError(f"refused storage id {pid!r}")
        if not isinstance(numel, int) or numel < 0:
            raise pickle.UnpicklingError(f"refused storage size {numel!r}")
        if key in self._storages:
            return self._storages[key]
        name = f"{self._prefix}data/{key}"
        try:
            info = self._archive.getinfo(name)
        except KeyError:
            raise pickle.UnpicklingError(f"storage record {name} is missing") from None
        itemsize = torch.empty((), dtype=marker.dtype).element_size()
        if info.compress_type != zipfile.ZIP_STORED or info.file_size != numel * itemsize:
            raise pickle.UnpicklingError(
                f"storage record {name}: {info.file_size} bytes (compression {info.compress_type}) "
                f"for {numel} x {marker.dtype}")
        data = bytearray(self._archive.read(info))
        flat = torch.frombuffer(data, dtype=marker.dtype) if numel else torch.empty(0, dtype=marker.dtype)
        self._storages[key] = flat
        return flat

    def _rebuild_tensor(self, storage, offset, size, stride, requires_grad, hooks, metadata=None):
        if not any(storage is s for s in self._storages.values()):
            raise pickle.UnpicklingError("tensor rebuilt from something that is not a storage record")

        def naturals(t) -> bool:
            return isinstance(t, tuple) and all(isinstance(i, int) and i >= 0 for i in t)

        if not (isinstance(offset, int) and offset >= 0 and naturals(size) and naturals(stride)
                and len(size) == len(stride)):
            raise pickle.UnpicklingError(f"bad tensor geometry {offset!r} {size!r} {stride!r}")
        if not isinstance(requires_grad, bool) or not (isinstance(hooks, OrderedDict) and not hooks):
            raise pickle.UnpicklingError("tensor with backward hooks or a non-bool requires_grad")
        if metadata is not None and not isinstance(metadata, dict):
            raise pickle.UnpicklingError("bad tensor metadata")
        return storage.as_strided(size, stride, offset)  # raises when out of the storage's bounds


def _archive_prefix(archive: zipfile.ZipFile) -> str | None:
    """``<name>/`` when the zip's single top folder holds data.pkl and constants.pkl, else None."""
    names = archive.namelist()
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) != 1:
        return None
    prefix = next(iter(tops)) + "/"
    return prefix if {prefix + "data.pkl", prefix + "constants.pkl"} <= set(names) else None


def is_torchscript_archive(path: str | Path) -> bool:
    """A zip whose single top folder holds ``data.pkl`` and ``constants.pkl`` (what torch checks)."""
    path = Path(path)
    if not path.is_file() or not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return _archive_prefix(archive) is not None


def read_torchscript_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Every tensor attribute of the archive's module tree by dotted name: for a traced module,
    exactly ``state_dict()`` of the loaded ScriptModule (its parameters and buffers), in order."""
    with zipfile.ZipFile(path) as archive:
        prefix = _archive_prefix(archive)
        if prefix is None:
            raise TorchScriptArchiveError(f"{path}: not a TorchScript archive (no <name>/data.pkl "
                                          "and <name>/constants.pkl)")
        info = archive.getinfo(prefix + "data.pkl")
        if info.file_size > MAX_PICKLE_BYTES:
            raise TorchScriptArchiveError(f"{path}: {prefix}data.pkl is {info.file_size} bytes")
        try:
            root = _RestrictedUnpickler(archive.read(info), archive, prefix).load()
        except Exception as err:  # UnpicklingError, or e.g. TypeError from calling a dtype marker
            raise TorchScriptArchiveError(f"{path}: refused: {type(err).__name__}: {err}") from None
    if not isinstance(root, ScriptObject):
        raise TorchScriptArchiveError(f"{path}: data.pkl does not hold a TorchScript module")
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()

    def walk(obj: ScriptObject, prefix: str) -> None:
        if id(obj) in seen:
            raise TorchScriptArchiveError(f"{path}: module {prefix or '<root>'} appears twice")
        seen.add(id(obj))
        for name, value in obj.attributes.items():
            if isinstance(value, torch.Tensor):
                out[prefix + name] = value
            elif isinstance(value, ScriptObject):
                walk(value, f"{prefix}{name}.")
            # bools (training), ints, strings, None: not weights

    walk(root, "")
    return out
