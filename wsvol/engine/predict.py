"""``wsvol predict``: a trained model on a user's own video — per frame a class, a score, a box.

Frames are localized independently (no temporal module), as in the papers, in batches on the
chosen device: decode → network (class + map) → box at τ → overlay → an annotated mp4, plus the
table (CSV and JSON). Everything the model needs comes from the checkpoint, loaded with
``weights_only=True``:

- ``meta['wsvol']['config']``: the merged config as YAML (read with ``yaml.safe_load``; mmengine's
  own ``meta['cfg']`` is Python text and is never executed);
- ``meta['dataset_meta']['classes']``: the class names of the training set (mmengine writes it);
- ``meta['wsvol']['tau']``: the τ chosen on validation, in checkpoints that hold the validated
  weights (``best_*.pth``; see :class:`wsvol.engine.hooks.CheckpointMetaHook`);
- ``meta['wsvol']['map_normalization']``: how the evaluation read the model's maps (``minmax``,
  or ``none`` for a probability map), so that τ cuts the map as it did on validation.

A checkpoint written by an older wsvol lacks them: the config then comes from the
``config.yaml`` beside it, the classes from its dataset's class map and τ is 0.5, each with a
note; where neither exists, predict stops and says what is missing.

An ONNX file of ``wsvol export`` predicts too, in onnxruntime on the CPU: classes, τ and the
preprocessing come from its metadata (an ONNX file is a graph of standard operators; loading it
runs no code of the file's).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wsvol.utils.files import (
    atomic_write_text,
    first_missing,
    remove_empty_folders,
    remove_stale_partials,
    temp_path,
)

#: key of wsvol's part of a checkpoint's ``meta``
META_KEY = "wsvol"
#: τ when a checkpoint holds none chosen on validation (and ``--tau`` is not given)
DEFAULT_TAU = 0.5
#: the files predict writes into its folder (and ``frames/frame_NNNNNN.png`` with ``--png``)
OUTPUT_NAMES = ("predictions.csv", "predictions.json", "predictions.mp4")
_PNG_NAME = re.compile(r"frame_\d{6,}\.png")


def predict_meta(cfg: Any, val: dict | None = None, *, map_normalization: str) -> dict:
    """``meta['wsvol']`` of a checkpoint: the config as YAML, how the model's maps are normalized
    and, with ``val`` (``{"tau", "epoch", "iter"}`` of the validation that measured these
    weights), the τ chosen there (``tau`` None: CorLoc was 0 at every τ, none chosen; predict then
    takes its default and says why)."""
    import yaml
    from mmengine.logging import print_log

    from wsvol.config.loader import dump_yaml

    meta: dict[str, Any] = {"map_normalization": map_normalization}
    try:
        meta["config"] = dump_yaml(cfg)
    except yaml.YAMLError as err:  # a value set in code that YAML cannot hold: predict falls back
        print_log(f"checkpoint meta: the config cannot be stored as YAML ({err}); wsvol predict will "
                  "need the config.yaml beside the checkpoint", logger="current", level=30)
    if val is not None and val.get("tau") is None:
        meta["tau_from"] = (f"validation after epoch {val['epoch']} (iteration {val['iter']}) found CorLoc 0 at "
                            "every τ, so it chose none")
    elif val is not None:
        meta["tau"] = float(val["tau"])
        meta["tau_from"] = f"validation after epoch {val['epoch']} (iteration {val['iter']})"
    return meta


@dataclass
class Trained:
    """A trained model ready to predict, with what it was trained on."""

    model: Any  #: in eval mode, on ``device``
    cfg: Any  #: the mmengine ``Config`` it was trained with
    classes: list[str]
    tau: float | None  #: the τ chosen on validation, if the checkpoint holds it
    tau_from: str  #: where ``tau`` comes from, or why there is none
    checkpoint: Path
    device: str = "cpu"
    notes: list[str] = field(default_factory=list)  #: fallbacks taken (older checkpoints)
    #: how τ cuts the maps: ``minmax`` normalized first, or ``none`` (probability maps as they are)
    map_normalization: str = "minmax"

    def pipeline(self) -> list:
        """The evaluation pipeline of its config, built (resize, normalize, pack)."""
        from wsvol.data.dataset import build_pipeline

        return build_pipeline(self.pipeline_cfg())

    def pipeline_cfg(self) -> list[dict]:
        """The steps that prepare a frame: the config's ``predict.pipeline``, else the test
        dataloader's, else the validation one's."""
        steps = (self.cfg.get("predict") or {}).get("pipeline")
        for key in ("test_dataloader", "val_dataloader"):
            steps = steps or ((self.cfg.get(key) or {}).get("dataset") or {}).get("pipeline")
        if steps:
            return [dict(step) for step in steps]
        raise ValueError(f"{self.checkpoint}: its config has no predict.pipeline, test_dataloader.dataset.pipeline "
                         "or val one: predict does not know how to prepare the frames")


def resolve_device(device: str | None) -> str:
    """``cpu``, ``cuda`` or ``cuda:N``, checked; None: ``cuda`` if torch sees one, else ``cpu``."""
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device != "cpu" and not (device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit())):
        raise ValueError(f"--device {device!r}: expected cpu, cuda or cuda:N")
    if device.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(device[5:]) if ":" in device else 0
        if index >= count:
            raise ValueError(f"--device {device}: torch sees {count} CUDA device(s) here")
    return device


def load_trained(checkpoint: str | Path, device: str | None = "cpu") -> Trained:
    """The model of a wsvol checkpoint (``weights_only`` load), in eval mode on ``device``, with its
    config, class names and validation τ (see the module docstring for the fallbacks); or of an
    ONNX file of ``wsvol export`` (:func:`load_onnx`)."""
    from wsvol.registry import MODELS
    from wsvol.weights import load_checkpoint_file, load_weights

    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"{checkpoint}: no such checkpoint file")
    if checkpoint.suffix == ".onnx":
        return load_onnx(checkpoint, device)
    device = resolve_device(device)
    state = load_checkpoint_file(checkpoint)
    if not isinstance(state, dict):
        raise ValueError(f"{checkpoint}: not a checkpoint (a {type(state).__name__}, not a dict)")
    meta = state.get("meta") if isinstance(state.get("meta"), dict) else {}
    ours = meta.get(META_KEY) if isinstance(meta.get(META_KEY), dict) else {}
    notes: list[str] = []
    cfg = _config(checkpoint, ours, notes)
    classes = _classes(checkpoint, meta, cfg, notes)
    if "tau" in ours:
        tau, tau_from = ours["tau"], f"chosen on {ours.get('tau_from', 'validation')}"
        if not _is_tau(tau):
            raise ValueError(f"{checkpoint}: meta.wsvol.tau must be a number in [0, 1), got {tau!r}")
        tau = float(tau)
    elif isinstance(ours.get("tau_from"), str):  # a validation that chose no τ says why
        tau, tau_from = None, ours["tau_from"]
    else:
        tau, tau_from = None, (
            "this checkpoint holds no τ chosen on validation of its weights (epoch_*/iter_* checkpoints "
            "are written before their validation; a best_*.pth holds the τ of the validation that chose it)")

    model_cfg = cfg.model.to_dict()
    for key in ("pretrained", "cls_head_checkpoint"):  # every weight comes from the checkpoint
        model_cfg.pop(key, None)
    if isinstance(model_cfg.get("backbone"), dict):
        model_cfg["backbone"].pop("pretrained", None)
    model = _quietly(MODELS.build, model_cfg)
    load_weights(model, state.get("state_dict", state), str(checkpoint))
    n = getattr(model, "num_classes", len(classes))
    if n != len(classes):
        raise ValueError(f"{checkpoint}: the model has {n} classes but {len(classes)} class names were found "
                         f"({', '.join(classes)})")
    if not hasattr(model, "localize"):
        raise TypeError(f"{checkpoint}: model {type(model).__name__} has no localize(images) → (scores, maps); "
                        "predict and export need it")
    normalization = _map_normalization(checkpoint, ours, model, notes)
    return Trained(model.to(device).eval(), cfg, list(classes), tau, tau_from, checkpoint, device, notes,
                   normalization)


def _map_normalization(checkpoint: Path, ours: dict, model: Any, notes: list[str]) -> str:
    """The checkpoint's ``map_normalization``; an older checkpoint's τ was chosen on min-max
    normalized maps, so it keeps them; else the model's own."""
    from wsvol.evaluation.maps import MAP_NORMALIZATIONS

    if "map_normalization" in ours:
        value = ours["map_normalization"]
        if value not in MAP_NORMALIZATIONS:
            raise ValueError(f"{checkpoint}: meta.wsvol.map_normalization must be one of "
                             f"{', '.join(MAP_NORMALIZATIONS)}, got {value!r}")
        return value
    own = getattr(model, "map_normalization", "minmax")
    if "tau" in ours and own != "minmax":
        notes.append("the checkpoint's τ was chosen on min-max normalized maps (older wsvol): predict cuts "
                     "them the same way")
        return "minmax"
    return own


def _is_tau(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and 0 <= value < 1


class OnnxLocalizer:
    """``localize(frames) → (scores, maps)`` of an exported ONNX file, in onnxruntime on the CPU
    with torch's thread count (the same threads give the same numbers)."""

    def __init__(self, path: Path) -> None:
        import onnxruntime
        import torch

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        try:
            self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own classes for a broken or foreign file
            raise ValueError(f"{path}: onnxruntime cannot load it ({err})") from None
        inputs = [i.name for i in self.session.get_inputs()]
        outputs = [o.name for o in self.session.get_outputs()]
        if inputs != ["frames"] or outputs[:2] != ["scores", "maps"]:
            raise ValueError(f"{path}: not a wsvol export (inputs {inputs}, outputs {outputs}; expected frames → "
                             "scores, maps)")

    def localize(self, frames):
        """Preprocessed frames (B, 3, H, W) → class probabilities (B, C), maps (B, H, W), as torch tensors."""
        import torch

        scores, maps = self.session.run(["scores", "maps"], {"frames": frames.detach().float().cpu().numpy()})
        return torch.from_numpy(scores), torch.from_numpy(maps)


def load_onnx(path: str | Path, device: str | None = "cpu") -> Trained:
    """An ONNX file of ``wsvol export`` ready to predict: onnxruntime on the CPU, classes, τ and
    the evaluation pipeline from the file's ``wsvol`` metadata, each checked."""
    from mmengine.config import Config

    from wsvol.evaluation.maps import MAP_NORMALIZATIONS

    path = Path(path)
    if device not in (None, "cpu"):
        raise ValueError(f"--device {device}: an ONNX file runs in onnxruntime on the CPU here; predict with the "
                         "checkpoint (.pth) on a GPU")
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ImportError(f"{path}: an ONNX file runs in onnxruntime, which is not installed: "
                          "pip install -e \".[export]\"") from None
    model = OnnxLocalizer(path)
    text = model.session.get_modelmeta().custom_metadata_map.get("wsvol")
    if not text:
        raise ValueError(f"{path}: no wsvol metadata (metadata_props['wsvol']): not written by wsvol export")
    try:
        meta = json.loads(text)
    except ValueError as err:
        raise ValueError(f"{path}: metadata_props['wsvol'] is not JSON ({err})") from None
    classes, tau, pipeline = meta.get("classes"), meta.get("tau"), meta.get("pipeline")
    normalization = meta.get("map_normalization", "minmax")  # older exports: τ chosen on min-max maps
    if not (isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)):
        raise ValueError(f"{path}: metadata 'classes' must be a list of class names, got {classes!r}")
    if tau is not None and not _is_tau(tau):
        raise ValueError(f"{path}: metadata 'tau' must be null or a number in [0, 1), got {tau!r}")
    if not (isinstance(pipeline, list) and pipeline and all(isinstance(s, dict) and "type" in s for s in pipeline)):
        raise ValueError(f"{path}: metadata 'pipeline' must be a list of steps with a 'type', got {pipeline!r}")
    if normalization not in MAP_NORMALIZATIONS:
        raise ValueError(f"{path}: metadata 'map_normalization' must be one of {', '.join(MAP_NORMALIZATIONS)}, "
                         f"got {normalization!r}")
    cfg = Config({"model": {"type": meta.get("model")}, "test_dataloader": {"dataset": {"pipeline": pipeline}}})
    tau_from = str(meta.get("tau_from") or "validation")
    return Trained(model, cfg, classes, None if tau is None else float(tau), tau_from, path, "cpu",
                   [f"ONNX export of {meta.get('checkpoint', 'a checkpoint')}, run in onnxruntime"], normalization)


def _config(checkpoint: Path, ours: dict, notes: list[str]):
    import yaml
    from mmengine.config import Config

    from wsvol.config import load_config

    text = ours.get("config")
    if isinstance(text, str):
        data = yaml.safe_load(text)
        if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
            raise ValueError(f"{checkpoint}: meta.wsvol.config is not a config with a model section")
        return Config(data)
    beside = checkpoint.parent / "config.yaml"
    if not beside.is_file():
        raise FileNotFoundError(f"{checkpoint}: the checkpoint holds no config (written by an older wsvol, or "
                                f"not by wsvol train/run) and there is no config.yaml beside it")
    notes.append(f"the checkpoint holds no config (older wsvol): read {beside}")
    return load_config(beside)


def _classes(checkpoint: Path, meta: dict, cfg, notes: list[str]) -> list[str]:
    from wsvol.data.folds import read_class_map, validate_class_map

    stored = (meta.get("dataset_meta") or {}).get("classes") if isinstance(meta.get("dataset_meta"), dict) else None
    if stored and all(isinstance(c, str) for c in stored):
        return list(stored)
    ds = ((cfg.get("test_dataloader") or {}).get("dataset") or {})
    class_map = ds.get("class_map")
    if isinstance(class_map, dict):
        names = validate_class_map(class_map)
        source = "the config's test_dataloader.dataset.class_map"
    else:
        path = Path(class_map) if class_map else Path(ds.get("folds_root", ".")) / "class_id.yaml"
        if not path.is_file():
            raise FileNotFoundError(
                f"{checkpoint}: the checkpoint holds no class names (meta.dataset_meta.classes) and the class "
                f"map of its dataset, {path}, is missing: predict will not guess them")
        names, source = read_class_map(path), str(path)
    notes.append(f"the checkpoint holds no class names (older wsvol): read them from {source}")
    return [n for n, _ in sorted(names.items(), key=lambda kv: kv[1])]


def _quietly(fn, *args):
    """``fn(*args)`` without mmengine's warnings (e.g. TrCAM-V's "head neither trained nor loaded",
    untrue here: the whole model's weights are loaded next)."""
    from mmengine.logging import MMLogger

    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(40)
    try:
        return fn(*args)
    finally:
        logger.setLevel(level)


@dataclass
class PredictRun:
    """What ``predict_video`` wrote and how fast it ran (end to end, decode to video)."""

    out: Path
    frames: int
    seconds: float
    tau: float
    tau_from: str
    video: Path | None
    #: problems of the source: frames the decoder marks corrupt, fewer frames than it declares
    warnings: list[str] = field(default_factory=list)
    #: outputs of an earlier predict in ``out`` that this run did not write again, removed
    removed: list[Path] = field(default_factory=list)

    @property
    def fps(self) -> float:
        """Frames per second, decode → map → box → overlay → encode."""
        return self.frames / self.seconds if self.seconds > 0 else float("inf")


def check_options(tau: float | None = None, stride: int = 1, max_frames: int | None = None,
                  batch_size: int = 1) -> None:
    """Raise ``ValueError`` naming the option at fault."""
    for name, value, low in (("stride", stride, 1), ("max_frames", max_frames, 1), ("batch_size", batch_size, 1)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if tau is not None and not (isinstance(tau, (int, float)) and 0 <= tau < 1):
        raise ValueError(f"tau must be in [0, 1) (the map is cut at int(tau * max)), got {tau!r}")


def predict_video(checkpoint: str | Path | Trained, source: str | Path, out_dir: str | Path, *,
                  tau: float | None = None, stride: int = 1, max_frames: int | None = None,
                  batch_size: int = 16, device: str | None = None, video: bool = True, png: bool = False,
                  fps: float | None = None, progress: bool = True) -> PredictRun:
    """Localize every ``stride``-th frame of ``source`` (at most ``max_frames``; decoding stops
    there) in batches; write ``predictions.csv`` / ``.json`` (frame, time, file, class, score, box
    in frame pixels), ``predictions.mp4`` (the overlays) unless ``video`` is False, and with ``png``
    each overlay as ``frames/frame_NNNNNN.png``. On success the outputs of an earlier predict in
    ``out_dir`` that this run did not write again are removed; a failed run leaves none of its own.

    ``tau``: None takes the checkpoint's τ chosen on validation (else 0.5). ``fps`` of the video:
    the source's rate ÷ ``stride`` (25 ÷ ``stride`` for a folder of frames) unless given.
    Corrupt frames and a video shorter than it declares are in ``warnings`` of the result (and the
    JSON), not errors.
    """
    import cv2
    import torch

    from wsvol.data.video import DecodeReport, frame_rate, read_frames
    from wsvol.evaluation.corloc import box_at_threshold
    from wsvol.evaluation.maps import prepare_map
    from wsvol.utils.terminal import make_progress
    from wsvol.visualization.mp4 import Mp4Writer, check_fps
    from wsvol.visualization.overlay import draw_overlay, save_png

    check_options(tau, stride, max_frames, batch_size)
    if fps is not None:
        check_fps(fps)
    source, out = Path(source), Path(out_dir)
    if not source.exists():
        raise FileNotFoundError(f"{source}: no such video file or frame folder")
    if source.is_dir() and (out / "frames").resolve() == source.resolve():
        raise ValueError(f"--out {out}: its frames/ folder is the source {source}, whose frame_NNNNNN.png files "
                         "predict would overwrite or remove; write the predictions elsewhere")
    earlier = (out / "predictions.json").is_file()  # an earlier predict's outputs may be there
    trained = checkpoint if isinstance(checkpoint, Trained) else load_trained(checkpoint, device)
    tau_used = tau if tau is not None else trained.tau if trained.tau is not None else DEFAULT_TAU
    tau_from = "--tau" if tau is not None else trained.tau_from if trained.tau is not None else \
        f"default {DEFAULT_TAU}: {trained.tau_from}"
    pipeline, classes, model = trained.pipeline(), trained.classes, trained.model
    rate = fps or (frame_rate(source) or 25.0) / stride
    if video:
        check_fps(rate, f"the frame rate of predictions.mp4 ({source}'s ÷ --stride {stride}; set --fps)")
    rows: list[dict] = []
    report = DecodeReport(source)
    created = first_missing(out)  # what a failure removes again, if nothing was written into it
    for folder in (out, out / "frames"):
        remove_stale_partials(folder, recursive=False)  # what a killed predict left there
    writer = None
    pngs: Path | None = None  # this run's PNGs: a temporary folder in out, moved to frames/ on success

    def flush(batch: list[tuple[int, np.ndarray, Any]]) -> None:
        x = torch.stack([inputs for _, _, inputs in batch]).to(trained.device)
        scores, maps = (t.float().cpu().numpy() for t in model.localize(x))
        for (index, rgb, _), p, cam in zip(batch, scores, maps):
            if not np.isfinite(cam).all() or not np.isfinite(p).all():
                raise ValueError(f"{source}: frame {index}: the model gave a non-finite map or score "
                                 f"(checkpoint {trained.checkpoint})")
            h, w = rgb.shape[:2]
            qmap = prepare_map(cam, (w, h), trained.map_normalization)
            box = box_at_threshold(qmap, tau_used)
            label = int(p.argmax())
            time_s = report.times.get(index)
            rows.append({"frame": index, "time": None if time_s is None else round(time_s, 6),
                         "file": report.files.get(index), "class": classes[label], "class_id": label,
                         "score": round(float(p[label]), 4),
                         "x0": box[0], "y0": box[1], "x1": box[2], "y1": box[3]})
            if writer is not None or png:
                picture = draw_overlay(qmap, rgb, pred_box=box, caption=f"{index}: {classes[label]} {p[label]:.2f}")
                if writer is not None:
                    writer.pixel_aspect = report.pixel_aspect  # known once decoding started
                    size = writer.size or picture.shape[1::-1]
                    if picture.shape[1::-1] != size:  # a folder of frames of several sizes: the first one's
                        picture = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
                    writer.write(picture)
                if pngs is not None:
                    save_png(pngs / f"frame_{index:06d}.png", picture)
        batch.clear()

    started = time.perf_counter()
    try:
        if png:
            out.mkdir(parents=True, exist_ok=True)
            pngs = temp_path(out / "frames")
            pngs.mkdir()
        writer = Mp4Writer(out / "predictions.mp4", rate) if video else None
        with make_progress(transient=True, disable=not progress) as bar, torch.no_grad():
            task = bar.add_task(f"predict {source.name}", total=max_frames)
            batch: list = []
            read = 0
            for index, rgb in read_frames(source, stride, max_frames, report):
                item = prepare_frame(pipeline, rgb, f"{source.stem}/frame_{index:06d}")
                batch.append((index, rgb, item["inputs"]))
                if len(batch) == batch_size:
                    flush(batch)
                read += 1
                bar.advance(task)
            if batch:
                flush(batch)
            bar.update(task, total=read)  # complete: a log file gets its last line with the count
        if not rows:
            raise ValueError(f"{source}: no frame was read")
        written = writer.close() if writer is not None else None
        seconds = time.perf_counter() - started

        warnings = report.warnings()
        buffer = io.StringIO()
        table = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        table.writeheader()
        table.writerows(rows)
        atomic_write_text(out / "predictions.csv", buffer.getvalue())
        atomic_write_text(out / "predictions.json", json.dumps({
            "source": str(source), "checkpoint": str(trained.checkpoint), "tau": tau_used, "tau_from": tau_from,
            "stride": stride, "classes": classes, "decoded_frames": report.decoded,
            "declared_frames": report.declared, "corrupt_frames": report.corrupt, "warnings": warnings,
            "pixel_aspect": str(report.pixel_aspect) if report.pixel_aspect else None,
            "frames": rows}, indent=2))
        mine = {out / "predictions.csv", out / "predictions.json"} | ({written} if written else set())
        if pngs is not None:
            (out / "frames").mkdir(exist_ok=True)
            for picture in sorted(pngs.iterdir()):
                os.replace(picture, out / "frames" / picture.name)
                mine.add(out / "frames" / picture.name)
            pngs.rmdir()
    except BaseException:
        if writer is not None:
            writer.close(keep=False)
        if pngs is not None:
            shutil.rmtree(pngs, ignore_errors=True)
        remove_empty_folders((out / "frames", out), created)
        raise
    removed = _remove_earlier_outputs(out, mine) if earlier else []
    return PredictRun(out, len(rows), seconds, tau_used, tau_from, written, warnings, removed)


def _remove_earlier_outputs(out: Path, mine: set[Path]) -> list[Path]:
    """Remove the outputs of an earlier predict in ``out`` (its :data:`OUTPUT_NAMES` and
    ``frames/frame_NNNNNN.png``) that are not in ``mine``; return them. Other files stay. Called
    only where an earlier predict left its ``predictions.json``."""
    frames = out / "frames"
    earlier = [out / name for name in OUTPUT_NAMES]
    if frames.is_dir():
        earlier += sorted(p for p in frames.iterdir() if _PNG_NAME.fullmatch(p.name))
    removed = [p for p in earlier if p not in mine and p.is_file()]
    for path in removed:
        path.unlink()
    if any(p.parent == frames for p in removed):
        try:
            frames.rmdir()  # emptied: an earlier --png run's folder
        except OSError:
            pass  # holds this run's PNGs, or files of the user's
    return removed


def prepare_frame(pipeline, rgb: np.ndarray, frame_id: str = "frame") -> dict:
    """An RGB frame through an evaluation pipeline (built transforms); ``["inputs"]`` is the tensor."""
    results = {"img": np.ascontiguousarray(rgb), "frame_id": frame_id, "ori_size": (rgb.shape[1], rgb.shape[0]),
               "gt_label": -1, "rng": np.random.default_rng(0)}
    for transform in pipeline:
        results = transform(results)
    return results
