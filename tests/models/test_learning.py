"""A real learning check: a tiny tag classifier trained on `tiny` synthetic frames classifies
held-out videos clearly above chance (10 classes: chance is 10 %)."""

from __future__ import annotations

import pytest
import torch

from wsvol.data import FoldDataset, collate_frames, generate_synthetic, synthetic
from wsvol.models.classifiers import ResNetCAM

PIPE = [{"type": "resize", "size": [64, 64]}, {"type": "normalize"}, {"type": "pack_inputs"}]
TRAIN = [{"type": "resize", "size": [72, 72]}, {"type": "random_crop", "size": 64}, {"type": "random_flip"},
         {"type": "normalize"}, {"type": "pack_inputs"}]


def batch(ds, idx):
    b = collate_frames([ds[i] for i in idx])
    return torch.stack(b["inputs"]), b["data_samples"]


@pytest.mark.slow
def test_tiny_classifier_learns_the_tags(tmp_path, monkeypatch):
    torch.manual_seed(0)
    root = tmp_path / "learn"
    # bigger than 'tiny': 16 training videos per class (2 do not generalise to new videos)
    monkeypatch.setitem(synthetic.SIZES, "learn", synthetic.SyntheticSize((96, 72), 16, 1, 2, 2, 2, 1, 2))
    generate_synthetic(root, size="learn", progress=False)
    train = FoldDataset(root, root / "folds", "train", pipeline=TRAIN)
    held_out = [FoldDataset(root, root / "folds", s, pipeline=PIPE) for s in ("val", "test")]
    # resnet10t at a quarter of its widths: as clearly above chance, in a tenth of the full widths' time
    model = ResNetCAM(backbone="resnet10t", num_classes=10, cam={"type": "cam"}, dilated=False,
                      backbone_kwargs={"channels": [16, 32, 64, 128], "stem_width": 8})
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(0)
    model.train()
    for epoch in range(10):
        train.set_epoch(epoch)
        for idx in torch.randperm(len(train), generator=gen).split(32):
            x, samples = batch(train, idx.tolist())
            loss = model(x, samples, mode="loss")["loss_cls"]
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for ds in held_out:
            x, samples = batch(ds, list(range(len(ds))))
            pred = model(x, mode="tensor").argmax(1)
            correct += int((pred == torch.tensor([s["gt_label"] for s in samples])).sum())
            total += len(samples)
    assert total == 60  # (1 val + 2 test videos) x 10 classes x 2 frames
    assert correct / total >= 0.3, f"held-out accuracy {correct}/{total} is not clearly above chance (10 %)"
