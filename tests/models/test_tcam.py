"""TCAM: the U-Net decoder's layout against TCAM's stated ResNet-50 sequence, the frozen encoder
and head loaded from a classifier checkpoint, and a training step that only moves the decoder."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper

from wsvol.models.backbones.resnet import TimmResNet
from wsvol.models.classifiers import ResNetCAM
from wsvol.models.heads.unet import UNetDecoderHead
from wsvol.models.tcam import TCAM

# tcam.md §2, ResNet-50 at 224 with stride-1 layer3/4: (in, skip, out, output side) of each block
TCAM_R50_SEQUENCE = [(2048, 1024, 256, 28), (256, 512, 128, 28), (128, 256, 64, 56), (64, 64, 32, 112), (32, 0, 16, 224)]
TCAM_R50_STAGES = [(3, 224), (64, 112), (256, 56), (512, 28), (1024, 28), (2048, 28)]


def test_resnet50_decoder_follows_tcams_channel_sequence():
    torch.manual_seed(0)
    encoder = TimmResNet("resnet50", dilated=False)  # TCAM's own encoder: strides 1, no dilation
    decoder = UNetDecoderHead(encoder).eval()
    sizes = []
    for block in decoder.blocks:
        block.register_forward_hook(lambda m, i, o: sizes.append(o.shape[-1]))
    with torch.no_grad():
        stages = encoder(torch.randn(1, 3, 224, 224))["stages"]
        logits = decoder(stages)
    assert [(s.shape[1], s.shape[-1]) for s in stages] == TCAM_R50_STAGES
    got = [(b.in_channels, b.skip_channels, b.out_channels, side) for b, side in zip(decoder.blocks, sizes)]
    assert got == TCAM_R50_SEQUENCE
    assert [b.conv1[0].in_channels for b in decoder.blocks] == [i + s for i, s, _, _ in TCAM_R50_SEQUENCE]
    assert all(isinstance(b.conv1[1], torch.nn.BatchNorm2d) for b in decoder.blocks)
    assert (decoder.seg_head.in_channels, decoder.seg_head.out_channels) == (16, 2)
    assert logits.shape == (1, 2, 224, 224)


def classifier_checkpoint(path, seed=3):
    """A trained-looking resnet50_cam (ResNet-18): random weights and BN statistics, as wsvol saves it."""
    torch.manual_seed(seed)
    clf = ResNetCAM(backbone="resnet18", num_classes=3)
    for m in clf.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    torch.save({"meta": {}, "state_dict": clf.state_dict()}, path)
    return clf.eval()


def tiny_tcam(ckpt) -> TCAM:
    torch.manual_seed(0)
    return TCAM(num_classes=3, backbone={"arch": "resnet18", "pretrained": str(ckpt)},
                cls_head_checkpoint=str(ckpt), loc_head={"channels": [32, 16, 16, 8, 8]},
                losses={"crf": {"sigma_xy": 10.0}})


def batch(model, n=4, size=32):
    g = torch.Generator().manual_seed(1)
    rgb, samples = [], []
    for i in range(n):
        img = torch.full((3, size, size), 30.0)
        img[:, 4 + 3 * i : 18 + 3 * i, 6 + 2 * i : 18 + 2 * i] = 200.0
        rgb.append(img + 5 * torch.rand(3, size, size, generator=g))
        m = F.avg_pool2d((img[:1] > 100).float()[None], 5, 1, 2)[0, 0]
        samples.append({"frame_id": f"c/v{i}/s/f{i}.jpg", "gt_label": i % 3, "pseudo_map": m.clamp(0, 1)})
    x = (torch.stack(rgb) / 255 - model.mean) / model.std
    return list(x), samples


def test_encoder_and_head_are_the_checkpoints_and_classify_as_the_classifier(tmp_path):
    clf = classifier_checkpoint(tmp_path / "best_cl_epoch_2.pth")
    model = tiny_tcam(tmp_path / "best_cl_epoch_2.pth")
    saved = clf.state_dict()
    for k, v in model.backbone.model.state_dict().items():
        assert torch.equal(v, saved[f"backbone.{k}"]), k
    assert torch.equal(model.cls_head.weight, saved["head.weight"]) and torch.equal(model.cls_head.bias, saved["head.bias"])
    x = torch.randn(2, 3, 40, 40)
    model.train()  # a frozen encoder stays in eval mode: the same logits as the classifier's
    with torch.no_grad():
        torch.testing.assert_close(model.classify(model.extract(x)), clf(x), rtol=0, atol=1e-5)
    scores, maps = model.localize(x)
    assert scores.shape == (2, 3) and maps.shape == (2, 40, 40)


def test_a_training_step_moves_only_the_decoder(tmp_path):
    classifier_checkpoint(tmp_path / "c.pth")
    model = tiny_tcam(tmp_path / "c.pth")
    frozen = {k: v.clone() for k, v in [*model.backbone.state_dict().items(), *model.cls_head.state_dict().items()]}
    decoder = {k: v.clone() for k, v in model.loc_head.state_dict().items()}
    assert set(model.losses) == {"pce", "size", "crf"}
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert {id(p) for p in trainable} == {id(p) for p in model.loc_head.parameters()}
    wrapper = OptimWrapper(torch.optim.SGD(trainable, lr=0.1, momentum=0.9, nesterov=True))
    model.train()
    inputs, samples = batch(model)
    for _ in range(2):
        losses = model(inputs, samples, "loss")
        assert set(losses) == {"loss_pce", "loss_size", "loss_crf"}  # no classification loss
        wrapper.update_params(sum(losses.values()))
    after = {**model.backbone.state_dict(), **model.cls_head.state_dict()}
    for k, v in frozen.items():  # weights and BatchNorm statistics (running mean/var, counters)
        assert torch.equal(v, after[k]), k
    moved = [k for k, v in model.loc_head.state_dict().items() if not torch.equal(v, decoder[k])]
    assert any(k.endswith("running_mean") for k in moved) and any(k.endswith("conv1.0.weight") for k in moved)
