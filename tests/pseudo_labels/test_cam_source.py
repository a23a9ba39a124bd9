"""The ``cam`` source on a tiny classifier trained for 2 steps by the real runner: its maps are
the CAM method's maps of the checkpoint's model, computed directly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from wsvol.cams import build_cam
from wsvol.data.synthetic import generate_synthetic
from wsvol.models.classifiers import ResNetCAM
from wsvol.pseudo_labels.cam_source import CamSource
from wsvol.weights import load_checkpoint_file

MODEL = {"type": "resnet50_cam", "backbone": "resnet18", "num_classes": 10,
         "backbone_kwargs": {"channels": [8, 16, 32, 64]}, "cam": {"type": "gradcampp"}}
MEAN, STD = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]


def train_config(data: Path) -> dict:
    """A 2-iteration training config on the tiny synthetic set."""
    dataset = {"type": "youtube_objects", "data_root": str(data), "folds_root": str(data / "folds")}
    test_pipeline = [{"type": "resize", "size": [40, 48]}, {"type": "normalize", "mean": MEAN, "std": STD},
                     {"type": "pack_inputs"}]
    return {
        "default_scope": "wsvol",
        "model": MODEL,
        "train_dataloader": {
            "batch_size": 4, "num_workers": 0, "sampler": {"type": "DefaultSampler", "shuffle": True},
            "collate_fn": {"type": "collate_frames"},
            "dataset": {**dataset, "split": "train", "pipeline": [
                {"type": "resize", "size": [40, 48]}, {"type": "normalize", "mean": MEAN, "std": STD},
                {"type": "pack_inputs"}]},
        },
        "test_dataloader": {"batch_size": 4, "num_workers": 0, "sampler": {"type": "DefaultSampler", "shuffle": False},
                            "collate_fn": {"type": "collate_frames"},
                            "dataset": {**dataset, "split": "test", "pipeline": test_pipeline}},
        "test_cfg": {}, "test_evaluator": {"type": "corloc"},
        "optim_wrapper": {"optimizer": {"type": "SGD", "lr": 0.1, "momentum": 0.9}},
        "train_cfg": {"by_epoch": False, "max_iters": 2},
        "default_hooks": {"checkpoint": {"type": "CheckpointHook", "interval": 2, "by_epoch": False},
                          "logger": {"type": "LoggerHook", "interval": 100}},
        "randomness": {"seed": 0},
        "log_level": "ERROR",
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """``iter_2.pth`` written by ``wsvol train``'s runner (with config.yaml and the run marker)."""
    from mmengine.config import Config

    from wsvol.engine.job import prepare_work_dir
    from wsvol.engine.runner import build_runner

    tmp = tmp_path_factory.mktemp("cam_source")
    generate_synthetic(tmp / "data", size="tiny", progress=False)
    cfg = Config(train_config(tmp / "data"))
    prepare_work_dir(cfg, tmp / "tiny.yaml", tmp / "work", None)
    build_runner(cfg).train()
    ckpt = tmp / "work" / "iter_2.pth"
    assert ckpt.is_file() and (tmp / "work" / "config.yaml").is_file()
    return ckpt


def direct_model(ckpt: Path) -> ResNetCAM:
    """The classifier rebuilt by hand and loaded with the checkpoint's weights."""
    model = ResNetCAM(**{k: v for k, v in MODEL.items() if k != "type"})
    model.load_state_dict(load_checkpoint_file(ckpt)["state_dict"])
    return model.eval()


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.randn(3, 3, 40, 48, generator=torch.Generator().manual_seed(0))


def test_training_moved_the_weights(trained):
    before = ResNetCAM(**{k: v for k, v in MODEL.items() if k != "type"})
    after = load_checkpoint_file(trained)["state_dict"]
    assert not torch.equal(before.head.weight, after["head.weight"])  # 2 SGD steps happened


def test_maps_are_the_cam_of_the_true_class(trained, images):
    source = CamSource(checkpoint=str(trained))  # model, CAM method and preprocessing from config.yaml
    model = direct_model(trained)
    cam = build_cam({"type": "gradcampp"}, model, "backbone.layer4")
    predicted, logits = cam(images)
    labels = (logits.argmax(1) + 1) % 10  # tags that are not the predicted classes
    got = source(images, labels)
    want, _ = cam(images, targets=labels)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
    assert got.shape == (3, 40, 48) and got.min() >= 0 and got.max() <= 1
    assert not torch.allclose(got, predicted)  # the true class's CAM, not the predicted one's


def test_predicted_class_option_and_another_cam_method(trained, images):
    source = CamSource(checkpoint=str(trained), cam="layercam", target="predicted")
    got = source(images, torch.tensor([0, 0, 0]))
    want, _ = build_cam("layercam", direct_model(trained), "backbone.layer4")(images)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


def test_feature_resolution_is_the_normalized_cam_of_the_last_stage(trained, images):
    """resolution=feature: Σ_k w_ck A_k at layer4's resolution (input/8), min-max normalized there
    (TCAM's stored CAMs; its torchcam CAM, like wsvol's, has no ReLU), computed here from the
    classifier's own feature maps and head."""
    source = CamSource(checkpoint=str(trained), cam="cam", resolution="feature")
    labels = torch.tensor([1, 4, 7])
    got = source(images, labels)
    model = direct_model(trained)
    with torch.no_grad():
        acts = model.feature_maps(images)  # (3, K, 5, 6)
        cam = torch.einsum("bk,bkhw->bhw", model.head.weight[labels], acts)
    lo = cam.flatten(1).min(1).values[:, None, None]
    hi = cam.flatten(1).max(1).values[:, None, None]
    assert got.shape == (3, 5, 6)
    torch.testing.assert_close(got, (cam - lo) / (hi - lo), rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="resolution must be 'input' or 'feature'"):
        CamSource(checkpoint=str(trained), resolution="low")


def test_preprocessing_comes_from_the_run_config(trained):
    source = CamSource(checkpoint=str(trained))
    assert source.input_size == (40, 48)
    assert source.mean == tuple(MEAN) and source.std == tuple(STD)
    assert len(source.class_names) == 10 and source.weights_files() == ()
    assert not any(p.requires_grad for p in source.parameters())
    with pytest.raises(ValueError, match="images are 32x32 but the source expects 40x48"):
        source(torch.zeros(1, 3, 32, 32), torch.tensor([0]))


def test_model_config_given_explicitly_and_errors(trained, tmp_path):
    alone = tmp_path / "alone.pth"
    alone.write_bytes(trained.read_bytes())  # outside its work dir: no config.yaml, weights_only load
    torch.save({"state_dict": load_checkpoint_file(trained)["state_dict"]}, alone)
    with pytest.raises(ValueError, match="no `model` given and no config.yaml"):
        CamSource(checkpoint=str(alone))
    src = CamSource(checkpoint=str(alone), model=MODEL, input_size=40)
    assert src.input_size == (40, 40) and src.mean == (0.485, 0.456, 0.406)
    with pytest.raises(FileNotFoundError, match="checkpoint .*missing.pth not found"):
        CamSource(checkpoint=str(tmp_path / "missing.pth"))
    wrong = dict(MODEL, backbone_kwargs={"channels": [8, 16, 32, 32]})
    with pytest.raises(ValueError, match=r"(?s)do not match ResNetCAM \(26 problem\(s\)\).*shape: +backbone.layer4"
                                         r".*\.\.\. and 14 more mis-shaped keys"):
        CamSource(checkpoint=str(alone), model=wrong)
    saved = yaml.safe_load((trained.parent / "config.yaml").read_text())
    assert saved["model"]["cam"] == {"type": "gradcampp"}


def test_generation_with_the_cam_source(trained, tmp_path):
    """The cache holds the CAMs of frames resized and normalized as the run config says."""
    import cv2
    import numpy as np
    import torch.nn.functional as F

    from wsvol.data.folds import read_split
    from wsvol.data.pseudo_label_cache import PseudoLabelCache
    from wsvol.pseudo_labels.generate import generate_pseudo_labels

    data = trained.parent.parent / "data"
    cfg = {"train_dataloader": {"dataset": {"data_root": str(data), "folds_root": str(data / "folds"),
                                            "split": "train"}},
           "pseudo_labels": {"source": {"type": "cam", "checkpoint": str(trained)}, "cache_dir": str(tmp_path),
                             "splits": ["val"], "size": [28, 28], "num_workers": 0, "batch_size": 8}}
    generate_pseudo_labels(cfg, progress=False)
    cache = PseudoLabelCache.open(tmp_path / "val")
    assert cache.complete and cache.size == (28, 28) and len(cache) == 30
    frames = read_split(data / "folds", "val").frames[:8]  # the first batch of the generation
    imgs = []
    for f in frames:
        rgb = cv2.cvtColor(cv2.imread(str(data / f.frame_id)), cv2.COLOR_BGR2RGB)
        rgb = cv2.resize(rgb, (48, 40), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
        imgs.append(torch.from_numpy((rgb - np.float32(MEAN)) / np.float32(STD)).permute(2, 0, 1))
    labels = torch.tensor([f.label for f in frames])
    maps, _ = build_cam({"type": "gradcampp"}, direct_model(trained), "backbone.layer4")(torch.stack(imgs), labels)
    want = F.interpolate(maps[:, None], size=(28, 28), mode="bilinear", align_corners=False)[:, 0].clamp(0, 1)
    for f, w in zip(frames, want.numpy()):
        got = cache.read_uint8(f.frame_id).astype(int)
        assert np.abs(got - np.floor(w.astype(np.float64) * 255)).max() <= 1  # float noise: one level
    assert (tmp_path / "eval.json").is_file()
