"""``model.num_classes`` is checked against the classes of the data the config reads, before any work."""

from __future__ import annotations

import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from wsvol.config import ConfigError, check_config, load_config
from wsvol.registry import MODELS

CONFIGS = Path(__file__).parents[2] / "configs"
OWN_VIDEOS = CONFIGS / "cam" / "layercam_own_videos.yaml"
TEN = "aeroplane, bird, boat, car, cat, cow, dog, horse, motorbike, train"


@MODELS.register_module(name="toy_default_classes_model")
class ToyDefaultClasses:
    """A model whose ``num_classes`` has a default."""

    def __init__(self, num_classes: int = 10):
        pass


def own_videos(root: Path, classes=None) -> Path:
    """``wsvol data import`` of two frame folders (car, cat): YouTube-Objects' ten class ids unless ``classes``."""
    from wsvol.data.video import import_videos

    for name in ("car", "cat"):
        clip = root / "src" / name / "clip1"
        clip.mkdir(parents=True)
        for i in range(2):
            cv2.imwrite(str(clip / f"frame_{i:04d}.jpg"), np.full((24, 32, 3), 40 * i + 60, np.uint8))
    import_videos(root / "src", root / "my_videos", classes=classes, progress=False)
    return root / "my_videos"


def options(data: Path, **extra) -> list[str]:
    return [f"train_dataloader.dataset.data_root={data}", f"train_dataloader.dataset.folds_root={data / 'folds'}",
            *(f"{k}={v}" for k, v in extra.items())]


def test_num_classes_beyond_the_imported_class_ids_stops_the_check(tmp_path):
    """The reported crash: imported without --classes (YouTube-Objects' ten ids, cat = 4), trained
    with num_classes 2 → IndexError: Target 4 is out of bounds after the run started."""
    data = own_videos(tmp_path)
    with pytest.raises(ConfigError) as err:
        check_config(load_config(OWN_VIDEOS, options(data)))
    assert str(err.value) == (
        f"1 problem in config {OWN_VIDEOS}:\n"
        f"  {OWN_VIDEOS}:7: model.num_classes: 2 does not match the 10 classes of {data / 'folds' / 'class_id.yaml'}, "
        f"which train_dataloader.dataset reads ({TEN}): training stops at the first frame of class id 2 or more; "
        "set model.num_classes to 10, or use a class map of 2 classes")
    check_config(load_config(OWN_VIDEOS, options(data, **{"model.num_classes": 10})))


def test_num_classes_above_the_class_count_is_refused_too(tmp_path):
    data = own_videos(tmp_path, classes=["car", "cat"])
    check_config(load_config(OWN_VIDEOS, options(data)))  # the documented flow: --classes car cat, num_classes 2
    with pytest.raises(ConfigError) as err:
        check_config(load_config(OWN_VIDEOS, options(data, **{"model.num_classes": 3})))
    assert (f"--cfg-options: model.num_classes: 3 does not match the 2 classes of {data / 'folds' / 'class_id.yaml'}, "
            "which train_dataloader.dataset reads (car, cat): predict and export refuse a checkpoint whose class "
            "count differs from its class names; set model.num_classes to 2, or use a class map of 3 classes"
            ) in str(err.value)


def test_a_default_num_classes_and_a_class_map_in_the_config(tmp_path):
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(textwrap.dedent("""\
        model: {type: toy_default_classes_model}
        train_dataloader:
          batch_size: 2
          dataset: {type: youtube_objects, data_root: d, folds_root: f, split: train, class_map: {a: 0, b: 1, c: 2}}
        """))
    with pytest.raises(ConfigError) as err:
        check_config(load_config(cfg))
    assert (f"{cfg}:1: model.num_classes: 10 (the default of model 'toy_default_classes_model': the config does not "
            "set it) does not match the 3 classes of train_dataloader.dataset.class_map, which "
            "train_dataloader.dataset reads (a, b, c): predict and export refuse") in str(err.value)


@pytest.mark.parametrize("config", [OWN_VIDEOS, CONFIGS / "cam" / "layercam_synthetic.yaml",
                                    CONFIGS / "cam" / "layercam_ytov1.yaml"], ids=lambda p: p.stem)
def test_data_not_there_yet_is_not_a_problem(tmp_path, config):
    """Folds a run generates (synthetic) or still to be downloaded (YouTube-Objects): nothing to compare."""
    cfg = load_config(config, [f"{k}_dataloader.dataset.folds_root={tmp_path / 'none'}"
                               for k in ("train", "val", "test") if load_config(config).get(f"{k}_dataloader")]
                      + (["synthetic.out=" + str(tmp_path / "none")] if load_config(config).get("synthetic") else []))
    check_config(cfg)
