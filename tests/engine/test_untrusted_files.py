"""No file wsvol reads can run code: a pickle payload planted in every place a command loads a
file is refused with a message naming the file, the command exits non-zero, and the payload's
marker file never appears. Also: a checkpoint of another model stops ``wsvol test``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tiny_configs import tiny_config  # beside this file (pytest puts its folder on sys.path)

from wsvol.data.synthetic import generate_synthetic

TINY = """\
param_scheduler: [{type: MultiStepLR, by_epoch: true, milestones: [1], gamma: 0.5}]
train_cfg: {by_epoch: true, max_epochs: 2}
default_hooks: {checkpoint: {type: CheckpointHook, interval: 1, max_keep_ckpts: 5}}
"""


def wsvol(*args, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run([sys.executable, "-m", "wsvol", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


class Payload:
    """Unpickling this runs ``touch <marker>`` (the classic pickle attack)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def plant(path: Path, marker: Path, state: dict | None = None) -> Path:
    """A checkpoint-shaped file whose unpickling would create ``marker``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": state or {"w": torch.zeros(2)}, "meta": {"epoch": 1, "iter": 1},
                "message_hub": Payload(marker)}, path)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A folder with tiny synthetic data, ``tiny.yaml`` and ``run/`` trained for 2 epochs by ``wsvol train``."""
    root = tmp_path_factory.mktemp("trained")
    data = root / "data"
    generate_synthetic(data, size="tiny", progress=False)
    tiny_config(root, data, TINY, validate=True)
    out = wsvol("train", "tiny.yaml", "--work-dir", "run", cwd=root)
    assert out.returncode == 0, out.stderr[-3000:]
    # it says where its output went and how the last validation scored
    summary = out.stdout.splitlines()[-3:]
    assert summary[:2] == ["work dir: run", "checkpoints: epoch_2.pth (last)"], out.stdout[-2000:]
    assert re.fullmatch(r"last validation: corloc \d+\.\d\d, corloc_mean \d+\.\d\d, cl \d+\.\d\d", summary[2])
    return root


def _predict_next_to_marker(root: Path, evil: Path) -> list[str]:
    """``wsvol predict DIR/epoch_1.pth`` with ``wsvol-run.json`` and ``config.yaml`` beside it."""
    shutil.copy(root / "run" / "config.yaml", evil.parent / "config.yaml")
    shutil.copy(root / "run" / "wsvol-run.json", evil.parent / "wsvol-run.json")
    return ["predict", str(evil), str(root / "data/aeroplane/video-0001/shot-000001"), "--out", str(root / "out")]


def _predict_marker_one_level_up(root: Path, evil: Path) -> list[str]:
    shutil.copy(root / "run" / "config.yaml", evil.parent / "config.yaml")
    shutil.copy(root / "run" / "wsvol-run.json", evil.parent.parent / "wsvol-run.json")
    return ["predict", str(evil), str(root / "data/aeroplane/video-0001/shot-000001"), "--out", str(root / "out")]


CASES = {  # name → (checkpoint file relative to the case folder, command)
    "predict, wsvol-run.json beside it": ("DIR/epoch_1.pth", _predict_next_to_marker),
    "predict, wsvol-run.json one level up": ("DIR/sub/epoch_1.pth", _predict_marker_one_level_up),
    "train --resume FILE": ("DIR/evil.pth", lambda root, evil: ["train", "tiny.yaml", "--resume", str(evil)]),
    "test --checkpoint FILE --work-dir DIR": (
        "DIR/evil.pth", lambda root, evil: ["test", "tiny.yaml", "--checkpoint", str(evil), "--work-dir", str(evil.parent)]),
    "train with load_from": (
        "DIR/evil.pth", lambda root, evil: ["train", "tiny.yaml", "--work-dir", str(root / "w"),
                                            "--cfg-options", f"load_from={evil}"]),
    "train --resume auto picks a planted epoch_9.pth": (
        "DIR/epoch_9.pth", lambda root, evil: ["train", "tiny.yaml", "--work-dir", str(evil.parent), "--resume"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_a_pickle_payload_is_refused_wherever_a_command_loads_a_checkpoint(trained, tmp_path, case):
    where, command = CASES[case]
    for name in ("tiny.yaml", "tiny_base.yaml"):
        shutil.copy(trained / name, tmp_path / name)
    (tmp_path / "data").symlink_to(trained / "data")
    (tmp_path / "run").symlink_to(trained / "run")
    marker = tmp_path / "PWNED"
    evil = plant(tmp_path / where, marker)
    args = command(tmp_path, evil)
    before = sorted(p.name for p in evil.parent.iterdir())
    out = wsvol(*args, cwd=tmp_path)
    assert out.returncode != 0
    assert not marker.exists()
    assert f"{evil}: refused, it cannot be loaded with weights_only=True" in out.stderr, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    # refused before any work: nothing written beside the file, no work dir or output made
    assert sorted(p.name for p in evil.parent.iterdir()) == before
    assert not (tmp_path / "w").exists() and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_safe_checkpoint_whose_meta_holds_a_python_config_is_refused(trained, tmp_path):
    """Tensors only, so it passes weights_only; but mmengine's resume would run ``meta.config``
    (``Config.fromstring(..., '.py')``)."""
    for name in ("tiny.yaml", "tiny_base.yaml"):
        shutil.copy(trained / name, tmp_path / name)
    marker = tmp_path / "PWNED"
    ckpt = torch.load(trained / "run" / "epoch_1.pth", weights_only=True)
    ckpt["meta"]["config"] = f"import os\nos.system('touch {marker}')\n"
    evil = tmp_path / "run" / "epoch_1.pth"
    evil.parent.mkdir()
    torch.save(ckpt, evil)
    out = wsvol("train", "tiny.yaml", "--resume", str(evil), cwd=tmp_path)
    assert out.returncode != 0 and not marker.exists()
    assert f"{evil}: refused, its meta.config holds a Python config" in out.stderr


@pytest.mark.slow
def test_test_with_a_checkpoint_of_another_model_stops_listing_the_keys(trained, tmp_path):
    """No report of a randomly initialized model: missing, unexpected and mis-shaped keys are listed."""
    ckpt = torch.load(trained / "run" / "epoch_2.pth", weights_only=True)
    state = ckpt["state_dict"]
    state["head.weight"] = torch.zeros(3, state["head.weight"].shape[1])
    state["extra.bias"] = torch.zeros(3)
    del state["head.bias"]
    foreign = tmp_path / "foreign.pth"
    torch.save(ckpt, foreign)
    out = wsvol("test", str(trained / "tiny.yaml"), "--checkpoint", str(foreign), "--work-dir", str(tmp_path / "w"),
                cwd=trained)
    assert out.returncode != 0, out.stdout[-2000:]
    assert f"weights {foreign} do not match ResNetCAM (3 problem(s))" in out.stderr
    assert "missing:    head.bias" in out.stderr and "unexpected: extra.bias (3,)" in out.stderr
    assert "shape:      head.weight file (3," in out.stderr
    assert not (tmp_path / "w").exists()  # a test that could not start leaves no work dir
    # a checkpoint whose stored config builds another model is named so, not key by key
    import yaml

    ckpt = torch.load(trained / "run" / "epoch_2.pth", weights_only=True)
    stored = yaml.safe_load(ckpt["meta"]["wsvol"]["config"])
    ours, stored["model"]["type"] = stored["model"]["type"], "trcamv"
    ckpt["meta"]["wsvol"]["config"] = yaml.safe_dump(stored)
    torch.save(ckpt, foreign)
    out = wsvol("test", str(trained / "tiny.yaml"), "--checkpoint", str(foreign), "--work-dir", str(tmp_path / "w"),
                cwd=trained)
    assert out.returncode != 0
    assert f"{foreign}: a checkpoint of a 'trcamv' model, but this config builds {ours!r}" in out.stderr
    # a plain state dict (no wsvol meta) cannot be resumed from
    torch.save(torch.load(trained / "run" / "epoch_2.pth", weights_only=True)["state_dict"], foreign)
    out = wsvol("train", str(trained / "tiny.yaml"), "--resume", str(foreign), cwd=trained)
    assert out.returncode != 0 and f"{foreign}: not a training checkpoint of wsvol" in out.stderr


# -- the loads inside components (in process) --------------------------------------------------
def _refused(call, evil: Path, marker: Path) -> str:
    with pytest.raises(Exception) as err:
        call()
    assert not marker.exists()
    assert str(evil) in str(err.value), str(err.value)
    return str(err.value)


def test_classifier_pretrained_and_cam_source_checkpoint_refuse_a_payload(tmp_path):
    from wsvol.pseudo_labels.cam_source import load_classifier
    from wsvol.registry import MODELS

    marker = tmp_path / "PWNED"
    evil = plant(tmp_path / "evil.pth", marker)
    model = {"type": "resnet50_cam", "backbone": "resnet10t", "num_classes": 10}
    msg = _refused(lambda: MODELS.build({**model, "pretrained": str(evil)}), evil, marker)
    assert "refused" in msg
    msg = _refused(lambda: load_classifier(evil, model), evil, marker)
    assert "refused" in msg


def test_trcamv_cls_head_checkpoint_refuses_a_payload(tmp_path):
    from wsvol.config import load_config
    from wsvol.registry import MODELS

    marker = tmp_path / "PWNED"
    evil = plant(tmp_path / "evil.pth", marker)
    cfg = load_config(Path(__file__).parents[2] / "configs" / "trcamv_synthetic.yaml").model.to_dict()
    cfg["cls_head_checkpoint"] = str(evil)
    msg = _refused(lambda: MODELS.build(cfg), evil, marker)
    assert "refused" in msg


def test_vit_backbone_pretrained_refuses_a_payload(tmp_path):
    from wsvol.registry import BACKBONES

    marker = tmp_path / "PWNED"
    evil = plant(tmp_path / "evil.pth", marker)
    _refused(lambda: BACKBONES.build({"type": "timm_vit", "arch": "vit_tiny_patch16_224", "img_size": 32,
                                      "pretrained": str(evil)}), evil, marker)


@pytest.mark.clip
def test_clip_es_pretrained_refuses_a_payload(tmp_path):
    pytest.importorskip("open_clip")
    from wsvol.pseudo_labels.clip_es import load_clip

    marker = tmp_path / "PWNED"
    evil = plant(tmp_path / "evil.pth", marker)
    with pytest.raises(Exception):  # noqa: B017 (open_clip's own error; what matters is the marker)
        load_clip("ViT-B-16", str(evil))
    assert not marker.exists()


def test_no_load_in_the_package_can_unpickle_code():
    """Every ``torch.load`` in wsvol passes ``weights_only=True``; nothing calls ``pickle.load(s)``
    or ``numpy.load(..., allow_pickle=True)``."""
    import ast

    import wsvol

    found = []
    for path in Path(wsvol.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value.id if isinstance(node.func.value, ast.Name) else ""
            kw = {k.arg: k.value for k in node.keywords}
            where = f"{path.relative_to(Path(wsvol.__file__).parent)}:{node.lineno}"
            if owner == "torch" and node.func.attr == "load":
                found.append(where)
                assert isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True, where
            assert not (owner == "pickle" and node.func.attr in ("load", "loads")), where
            assert not (owner == "np" and node.func.attr == "load" and isinstance(kw.get("allow_pickle"), ast.Constant)
                        and kw["allow_pickle"].value), where
    assert found  # the check saw the loads (weights/loading.py)
