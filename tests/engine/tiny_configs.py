"""The tiny training config the engine tests share: a small ResNet on the tiny synthetic data.

``tiny_config(folder, data, overrides)`` writes the shared base (``tiny_base.yaml``) and a config
that inherits it with each test's own changes (backbone, norm layer, schedule, hooks ...).
"""

from __future__ import annotations

import json
from pathlib import Path

import config_options  # tests/ (the root conftest's folder) is on the path

#: config_options.NARROW_RESNET as a YAML flow mapping, for the configs these tests write
NARROW_RESNET = json.dumps(config_options.NARROW_RESNET)
RUNTIME = Path(__file__).parents[2] / "configs" / "_base_" / "default_runtime.yaml"
TINY_BASE = """\
_base_: {runtime}
model: {{type: resnet50_cam, backbone: resnet10t, num_classes: 10, cam: {{type: gradcam}}}}
train_dataloader:
  batch_size: 8
  num_workers: 0
  sampler: {{type: shot_sampler}}
  collate_fn: {{type: collate_frames}}
  dataset:
    <<: &data {{type: youtube_objects, data_root: {data}, folds_root: {data}/folds}}
    split: train
    seed: 0
    pipeline:
      - {{type: resize, size: [40, 40]}}
      - {{type: random_crop, size: 32}}
      - {{type: random_flip}}
      - {{type: normalize}}
      - {{type: pack_inputs}}
test_dataloader:
  batch_size: 5
  num_workers: 0
  sampler: {{type: frame_sampler, shuffle: false}}
  collate_fn: {{type: collate_frames}}
  dataset:
    <<: *data
    split: test
    pipeline: [{{type: resize, size: [32, 32]}}, {{type: normalize}}, {{type: pack_inputs}}]
test_cfg: {{}}
test_evaluator: {{type: corloc}}
optim_wrapper: {{optimizer: {{type: SGD, lr: 0.05, momentum: 0.9}}}}
train_cfg: {{by_epoch: true, max_epochs: 1}}
"""
#: The validation loop of the base, for tests that validate (with ``val_cfg: {}``).
TINY_VAL = """\
val_dataloader:
  batch_size: 5
  num_workers: 0
  sampler: {type: frame_sampler, shuffle: false}
  collate_fn: {type: collate_frames}
  dataset: {type: youtube_objects, data_root: DATA, folds_root: DATA/folds, split: val,
            pipeline: [{type: resize, size: [32, 32]}, {type: normalize}, {type: pack_inputs}]}
val_cfg: {}
val_evaluator: {type: corloc}
"""


def tiny_config(folder: Path, data: Path, overrides: str = "", name: str = "tiny.yaml",
                validate: bool = False) -> Path:
    """Write ``folder/tiny_base.yaml`` and ``folder/<name>`` (the base + ``overrides``); return the latter."""
    base = folder / "tiny_base.yaml"
    base.write_text(TINY_BASE.format(runtime=RUNTIME, data=data))
    val = TINY_VAL.replace("DATA", str(data)) if validate else ""
    path = folder / name
    path.write_text(f"_base_: {base}\n{val}{overrides}")
    return path
