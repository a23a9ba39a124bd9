"""``wsvol export``: a trained model as ONNX or TorchScript — frames → class probabilities + maps.

The exported graph is the model's ``localize``:

- input ``frames`` (B, 3, H, W) float32, prepared as the checkpoint's evaluation pipeline does
  (resized to H×W, normalized with its mean/std); the batch size is free;
- outputs ``scores`` (B, C) class probabilities and ``maps`` (B, H, W) localization maps in
  [0, 1] (TrCAM-V: the foreground probability; a classifier: its min-max normalized CAM).

The file carries JSON metadata (ONNX ``metadata_props["wsvol"]``, TorchScript extra file
``wsvol.json``): class names, the τ chosen on validation, input size, the pipeline. Before the
file gets its name, the exported model runs on check frames and must give torch's outputs on
them within :data:`TOLERANCE`; otherwise nothing is written.

What exports: TrCAM-V (a forward pass gives both outputs), and any model whose ``localize`` is
forward only. A CAM classifier (``resnet50_cam``, ``vit_classifier``) exports with CAM (``cam``:
the head's weights times the feature maps), not with the gradient methods (GradCAM, GradCAM++,
XGradCAM, LayerCAM, Smooth-GradCAM++): they need ∂y/∂A, a backward pass at run time that a
forward graph does not hold, so export refuses them and names ``--cam cam``.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wsvol.utils.files import (
    commit_temp,
    first_missing,
    remove_empty_folders,
    remove_stale_partials,
    reserve_temp,
)

#: Largest |exported − torch| allowed on scores and maps (probabilities and [0, 1] maps, float32).
TOLERANCE = 1e-4
FORMATS = ("onnx", "torchscript")
SUFFIX = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}


class Localizer(torch.nn.Module):
    """``frames`` → (``scores``, ``maps``): a model's ``localize`` as a plain module (what is exported)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Preprocessed frames (B, 3, H, W) → class probabilities (B, C), maps (B, H, W)."""
        return self.model.localize(frames)


@dataclass
class Exported:
    """An exported file and how it compared with torch."""

    path: Path
    format: str
    frames: int  #: check frames
    max_diff: dict[str, float]  #: largest |exported − torch| of ``scores`` and ``maps``
    tolerance: float
    metadata: dict
    notes: list[str] = field(default_factory=list)


def export_model(checkpoint: str | Path, fmt: str = "onnx", out: str | Path | None = None, *,
                 cam: str | None = None, check_frames: int = 4, video: str | Path | None = None,
                 tolerance: float = TOLERANCE) -> Exported:
    """Export ``checkpoint``'s model to ``out`` (default: beside it, ``.onnx`` / ``.torchscript.pt``),
    checked against torch on ``check_frames`` frames (of ``video``, else seeded random ones)."""
    from wsvol.engine.predict import load_trained

    if fmt not in FORMATS:
        raise ValueError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if Path(checkpoint).suffix == ".onnx":
        raise ValueError(f"{checkpoint}: already an export; export the checkpoint (.pth) it was made from")
    if check_frames < 1:
        raise ValueError(f"check_frames must be >= 1, got {check_frames}")
    if fmt == "onnx":
        _require_onnx()
    trained = load_trained(checkpoint, "cpu")
    model = trained.model
    cam_name = _check_exportable(model, cam, trained.checkpoint)
    out = Path(out) if out else trained.checkpoint.with_name(trained.checkpoint.name.rsplit(".", 1)[0] + SUFFIX[fmt])
    pipeline = trained.pipeline()
    frames = _check_inputs(pipeline, check_frames, video)
    h, w = frames.shape[-2:]
    normalize = next((dict(s) for s in trained.pipeline_cfg() if s.get("type") == "normalize"), None)
    metadata = {
        "format": 1, "model": str(trained.cfg.model.get("type")), "checkpoint": trained.checkpoint.name,
        "classes": trained.classes, "tau": trained.tau, "tau_from": trained.tau_from, "cam": cam_name,
        "map_normalization": trained.map_normalization,
        "input": {"name": "frames", "shape": ["batch", 3, int(h), int(w)], "dtype": "float32",
                  "normalize": normalize},
        "outputs": {"scores": ["batch", len(trained.classes)], "maps": ["batch", int(h), int(w)]},
        "pipeline": trained.pipeline_cfg(),
    }
    wrapper = Localizer(model).eval().requires_grad_(False)  # a trace does not keep localize's no_grad
    example = frames[: min(2, len(frames))] if len(frames) > 1 else frames.repeat(2, 1, 1, 1)
    with torch.no_grad():
        expected = [t.float().numpy() for t in wrapper(frames)]

    created = first_missing(out.parent)  # what a failure removes again
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(out.parent, recursive=False)  # what a killed export left there
    tmp = reserve_temp(out)
    try:
        text = json.dumps(metadata, default=str)
        if fmt == "onnx":
            write_onnx(wrapper, example, tmp, text)
            got = _run_onnx(tmp, frames.numpy())
        else:
            write_torchscript(wrapper, example, tmp, text)
            got = _run_torchscript(tmp, frames)
        diff = {name: float(np.abs(a - b).max()) for name, a, b in zip(("scores", "maps"), got, expected)}
        shapes_ok = all(a.shape == b.shape for a, b in zip(got, expected))
        if not shapes_ok or max(diff.values()) > tolerance:
            raise ValueError(f"{out}: the exported model does not match torch on {len(frames)} frames "
                             f"(max |Δ| {diff}, shapes {[a.shape for a in got]} vs {[b.shape for b in expected]}; "
                             f"tolerance {tolerance:g}): not written")
        commit_temp(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        remove_empty_folders((out.parent,), created)
        raise
    return Exported(out, fmt, len(frames), diff, tolerance, metadata, list(trained.notes))


def _require_onnx() -> None:
    missing = []
    for name in ("onnx", "onnxscript", "onnxruntime"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ImportError(f"ONNX export needs {', '.join(missing)}: pip install 'wsvol[export]' "
                          "(onnx, onnxscript, onnxruntime)")


def _check_exportable(model, cam: str | None, checkpoint: Path) -> str | None:
    """Switch a classifier to ``cam`` if given; refuse a gradient CAM. Returns the CAM method's name."""
    if cam is not None and not hasattr(model, "set_cam"):
        raise ValueError(f"--cam {cam}: {type(model).__name__} ({checkpoint}) is not a CAM classifier")
    if cam is not None:
        model.set_cam(cam)
    method = getattr(model, "cam_method", None)
    if method is None:
        return None
    name = type(method).__name__
    if getattr(method, "uses_gradients", True):
        raise ValueError(f"{checkpoint}: the classifier's CAM method {name} needs a backward pass (∂y/∂A) at run "
                         "time, which an exported forward graph does not hold: export it with --cam cam (CAM "
                         "from the head weights, forward only), or export a TrCAM-V")
    return name


def _check_inputs(pipeline, n: int, video: str | Path | None):
    """(n, 3, H, W) network inputs: ``n`` frames of ``video`` (or seeded random 160×120 frames)
    through the evaluation pipeline."""
    from wsvol.data.video import read_frames
    from wsvol.engine.predict import prepare_frame

    if video is not None:
        rgbs = [rgb for _, rgb in read_frames(video, max_frames=n)]
    else:
        rng = np.random.default_rng(0)
        rgbs = [rng.integers(0, 256, (120, 160, 3), dtype=np.uint8) for _ in range(n)]
    return torch.stack([prepare_frame(pipeline, rgb, f"check/{i}")["inputs"] for i, rgb in enumerate(rgbs)]).float()


def write_onnx(wrapper: torch.nn.Module, example: torch.Tensor, path: Path, metadata: str = "{}") -> None:
    """``wrapper`` (frames → scores, maps) as ONNX (torch.export, free batch size) with ``metadata``."""
    with _quiet():
        program = torch.onnx.export(
            wrapper, (example,), input_names=["frames"], output_names=["scores", "maps"],
            dynamic_shapes={"frames": {0: torch.export.Dim("batch", min=1, max=4096)}},
            dynamo=True, external_data=False, verbose=False)
    program.model.metadata_props["wsvol"] = metadata
    program.save(str(path), external_data=False)


def _run_onnx(path: Path, frames: np.ndarray) -> list[np.ndarray]:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [np.asarray(a, dtype=np.float32) for a in session.run(["scores", "maps"], {"frames": frames})]


def write_torchscript(wrapper: torch.nn.Module, example: torch.Tensor, path: Path, metadata: str = "{}") -> None:
    """``wrapper`` traced on ``example`` as TorchScript, ``metadata`` as the extra file ``wsvol.json``."""
    with _quiet(), torch.no_grad():
        traced = torch.jit.trace(wrapper, example, check_trace=False)
        torch.jit.save(traced, str(path), _extra_files={"wsvol.json": metadata})


def _run_torchscript(path: Path, frames) -> list[np.ndarray]:
    with _quiet():  # torch.jit's deprecation warning
        module = torch.jit.load(str(path), map_location="cpu")
    with torch.no_grad():
        return [t.float().numpy() for t in module(frames)]


@contextlib.contextmanager
def _quiet():
    """Silence the exporters' progress lines and tracer warnings (the checks below say what matters)."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The ``wsvol`` metadata of an exported file (ONNX or TorchScript), read as data: a
    TorchScript archive's ``extra/wsvol.json`` straight from its zip, never ``torch.jit.load``
    (which would compile the archive's code)."""
    import zipfile

    path = Path(path)
    if path.suffix == ".onnx":
        import onnx

        props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
        if "wsvol" not in props:
            raise ValueError(f"{path}: no wsvol metadata")
        return json.loads(props["wsvol"])
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.count("/") == 2 and n.endswith("/extra/wsvol.json")]
            if not names:
                raise ValueError(f"{path}: no wsvol metadata")
            return json.loads(archive.read(names[0]))
    except zipfile.BadZipFile:
        raise ValueError(f"{path}: not an ONNX file or a TorchScript archive") from None
