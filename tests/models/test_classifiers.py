"""Tag classifiers: shapes, output stride, training signal, predict outputs, weight loading."""

from __future__ import annotations

import pytest
import torch
from mmengine.optim import OptimWrapper
from safetensors.torch import save_file

from wsvol.cams import CAM, GradCAM, GradCAMpp, LayerCAM
from wsvol.models.classifiers import ResNetCAM, ViTClassifier
from wsvol.weights import WeightsError

TINY_VIT = dict(img_size=32, depth=2, reg_tokens=2)
TINY_RES = dict(channels=(8, 16, 32, 64))  # resnet18 layout, narrow: fast tests


def resnet(**kwargs) -> ResNetCAM:
    return ResNetCAM("resnet18", num_classes=3, backbone_kwargs=TINY_RES, **kwargs)


def samples(n: int) -> list[dict]:
    return [{"frame_id": f"cat/video-0001/shot-000001/frame_{i:06d}.jpg", "video_id": "cat/video-0001",
             "gt_label": i % 3, "ori_size": (64, 48), "img_shape": (32, 32)} for i in range(n)]


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("dilated", [True, False])
def test_resnet_output_stride_8(dilated):
    model = resnet(dilated=dilated).eval()
    with torch.no_grad():
        assert model.feature_maps(torch.zeros(1, 3, 224, 224)).shape == (1, 64, 28, 28)
        assert model.feature_maps(torch.zeros(1, 3, 48, 80)).shape == (1, 64, 6, 10)
    dilations = {m.dilation for m in model.backbone.layer4.modules() if isinstance(m, torch.nn.Conv2d)}
    assert (max(d[0] for d in dilations) > 1) == dilated


def test_tensor_mode_and_cam_weights(images):
    model = resnet(cam="cam").eval()
    logits = model(list(images))  # a list of frames is stacked
    assert logits.shape == (4, 3)
    torch.testing.assert_close(model(images), logits)
    # CAM from the classifier = head weights of the predicted class on the stride-8 maps
    raw, _ = model.cam_method.raw(images)
    with torch.no_grad():
        maps = model.feature_maps(images)
    want = torch.einsum("bk,bkhw->bhw", model.head.weight[logits.argmax(1)], maps)
    torch.testing.assert_close(raw, want.detach(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("build", [lambda: resnet(),
                                   lambda: ViTClassifier("vit_tiny_patch16_224", num_classes=3,
                                                         backbone_kwargs=TINY_VIT)])
def test_loss_decreases_on_a_fixed_batch(build, images):
    torch.manual_seed(0)
    model = build().train()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    data = {"inputs": list(images), "data_samples": samples(4)}
    losses = [model.train_step(data, optim)["loss_cls"].item() for _ in range(6)]
    assert losses[-1] < losses[0], losses


@pytest.mark.parametrize("build", [lambda: resnet(),
                                   lambda: ViTClassifier("vit_tiny_patch16_224", num_classes=3,
                                                         backbone_kwargs=TINY_VIT)])
def test_predict_outputs(build, images):
    model = build().eval()
    data = {"inputs": list(images), "data_samples": samples(4)}
    outputs = model.val_step(data)  # under torch.no_grad, as in mmengine's loops
    logits = model(images)
    assert len(outputs) == 4
    for i, (out, sample) in enumerate(zip(outputs, samples(4))):
        assert {k: out[k] for k in sample} == sample
        assert out["cam"].shape == (32, 32) and out["cam"].dtype == torch.float32
        assert 0 <= out["cam"].min() and out["cam"].max() <= 1
        assert out["pred_label"] == int(logits[i].argmax())
        torch.testing.assert_close(out["scores"], logits[i].softmax(0).detach(), rtol=1e-5, atol=1e-6)
    # the map is the CAM of each frame's true class, as the reference evaluations score CAMs
    labels = torch.tensor([s["gt_label"] for s in samples(4)])
    assert (labels != logits.argmax(1)).any()  # else the test could not tell the two apart
    want, _ = model.cam_method(images, targets=labels)
    torch.testing.assert_close(torch.stack([o["cam"] for o in outputs]), want)
    assert all(o["map_normalization"] == "minmax" for o in outputs)
    # cam_target=predicted, or frames without a tag: the CAM of the predicted class
    predicted, _ = model.cam_method(images, targets=logits.argmax(1))
    torch.testing.assert_close(torch.stack([o["cam"] for o in model.predict(images)]), predicted)
    model.cam_target = "predicted"
    torch.testing.assert_close(torch.stack([o["cam"] for o in model.val_step(data)]), predicted)
    assert all(p.grad is None for p in model.parameters())


def test_cam_target_is_checked():
    with pytest.raises(ValueError, match="cam_target must be one of true, predicted, got 'label'"):
        resnet(cam_target="label")


def test_cam_method_is_configurable(images):
    model = resnet()
    assert isinstance(model.cam_method, LayerCAM) and model.cam_method.layer_name == "backbone.layer4"
    model = resnet(cam=dict(type="gradcam"))
    assert isinstance(model.cam_method, GradCAM)
    model.set_cam(dict(type="gradcampp", target_layer="backbone.layer3"))
    assert isinstance(model.cam_method, GradCAMpp) and model.cam_method.target_layer is model.backbone.layer3
    vit = ViTClassifier("vit_tiny_patch16_224", num_classes=3, cam="cam", backbone_kwargs=TINY_VIT)
    assert isinstance(vit.cam_method, CAM) and vit.cam_method.layer_name == "backbone.blocks.1.norm1"


def test_pretrained_backbone_and_full_state(tmp_path, images):
    source = resnet().eval()
    backbone_state = dict(source.backbone.state_dict())
    backbone_state["fc.weight"] = torch.zeros(1000, 64)  # timm's own classifier: dropped
    backbone_state["fc.bias"] = torch.zeros(1000)
    torch.save(backbone_state, tmp_path / "backbone.pth")
    model = resnet(pretrained=str(tmp_path / "backbone.pth")).eval()
    for k, v in source.backbone.state_dict().items():
        torch.testing.assert_close(model.backbone.state_dict()[k], v, msg=k)
    model.init_weights()  # mmengine's init pass must not wipe loaded weights
    torch.testing.assert_close(model.backbone.conv1.weight, source.backbone.conv1.weight)
    # a whole classifier, as an mmengine checkpoint and as safetensors
    torch.save({"state_dict": source.state_dict(), "meta": {}}, tmp_path / "full.pth")
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(tmp_path / "full.safetensors"))
    for name in ("full.pth", "full.safetensors"):
        model = resnet(pretrained=str(tmp_path / name)).eval()
        torch.testing.assert_close(model(images), source(images))


def test_pretrained_vit_backbone(tmp_path):
    source = ViTClassifier("vit_tiny_patch16_224", num_classes=3, backbone_kwargs=TINY_VIT)
    torch.save(source.backbone.state_dict(), tmp_path / "vit.pth")
    model = ViTClassifier("vit_tiny_patch16_224", num_classes=3, backbone_kwargs=TINY_VIT,
                          pretrained=str(tmp_path / "vit.pth"))
    torch.testing.assert_close(model.backbone.pos_embed, source.backbone.pos_embed)


def test_mismatched_weights_are_listed_key_by_key(tmp_path):
    state = dict(resnet().backbone.state_dict())
    del state["layer1.0.conv1.weight"]
    state["extra.weight"] = torch.zeros(2)
    state["conv1.weight"] = torch.zeros(64, 3, 3, 3)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(ValueError) as err:
        resnet(pretrained=str(tmp_path / "bad.pth"))
    message = str(err.value)
    assert "bad.pth" in message and "3 problem(s)" in message
    assert "missing:    layer1.0.conv1.weight (8, 64, 3, 3)" in message
    assert "unexpected: extra.weight (2,)" in message
    assert "shape:      conv1.weight file (64, 3, 3, 3) vs model (64, 3, 7, 7)" in message
    torch.save({"state_dict": {}, "meta": {"cfg": object()}}, tmp_path / "pickled.pth")
    with pytest.raises(WeightsError, match="pickled.pth: refused, it cannot be loaded with weights_only=True"):
        resnet(pretrained=str(tmp_path / "pickled.pth"))
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        resnet(pretrained=str(tmp_path / "nowhere.pth"))


def test_bad_inputs(images):
    model = resnet()
    with pytest.raises(ValueError, match="unknown forward mode 'logits'"):
        model(images, mode="logits")
    with pytest.raises(KeyError, match="frame_000001.jpg"):
        model(images, [*samples(1), {"frame_id": "frame_000001.jpg"}, *samples(2)], mode="loss")
    with pytest.raises(ValueError, match="not a timm ViT"):
        ViTClassifier("resnet18", num_classes=3)
