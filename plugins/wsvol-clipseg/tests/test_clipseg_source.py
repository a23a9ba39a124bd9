"""The clipseg source on tiny random-init checkpoints, against direct CLIPSeg calls."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
import torch.nn.functional as F
from open_clip.tokenizer import SimpleTokenizer
from safetensors.torch import load_file, save_file
from transformers import CLIPSegForImageSegmentation
from wsvol_clipseg.source import ClipSeg

from wsvol.data.classes import YOUTUBE_OBJECTS_CLASSES
from wsvol.pseudo_labels.base import PseudoLabelSource

SIZE = 48  # 6×6 patches of 8: position embeddings interpolated from the 4×4 grid


@pytest.fixture(scope="module")
def source(clipseg_dir) -> ClipSeg:
    return ClipSeg(pretrained=str(clipseg_dir), image_size=SIZE)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.randn(4, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))


def direct_maps(folder, images, prompts, size=None) -> torch.Tensor:
    """sigmoid(CLIPSeg logits) from a model loaded here, prompted by open_clip token ids."""
    model = CLIPSegForImageSegmentation.from_pretrained(str(folder), local_files_only=True).eval()
    ids = SimpleTokenizer()(list(prompts), context_length=77)
    with torch.no_grad():
        maps = model(input_ids=ids, pixel_values=images).logits.sigmoid()
    if size is not None:
        maps = F.interpolate(maps[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
    return maps


def test_is_a_frozen_pseudo_label_source(source):
    assert isinstance(source, PseudoLabelSource)
    assert source.class_names == YOUTUBE_OBJECTS_CLASSES and source.prompts == YOUTUBE_OBJECTS_CLASSES
    assert source.input_size == (SIZE, SIZE) and source.tokenizer_kind == "open_clip"
    # no preprocessor_config.json in the folder: CLIPSeg's published processor statistics
    assert source.mean == (0.485, 0.456, 0.406) and source.std == (0.229, 0.224, 0.225)
    assert not source.training and not source.train().training
    assert not any(p.requires_grad for p in source.parameters())
    assert source.class_embeddings.shape == (10, 16)


def test_maps_shape_and_range(source, images):
    maps = source(images, torch.tensor([0, 3, 5, 9]))
    assert maps.shape == (4, SIZE, SIZE) and maps.dtype == torch.float32
    assert maps.min() >= 0 and maps.max() <= 1 and maps.std() > 0


@pytest.mark.parametrize("eos", [2, 49407])
def test_equals_direct_clipseg_call(clipseg_dirs, images, eos):
    labels = torch.tensor([2, 0, 7, 2])
    source = ClipSeg(pretrained=str(clipseg_dirs[eos]), image_size=SIZE)
    expected = direct_maps(clipseg_dirs[eos], images, [YOUTUBE_OBJECTS_CLASSES[i] for i in labels])
    torch.testing.assert_close(source(images, labels), expected, atol=1e-5, rtol=1e-5)


def test_resized_to_the_input_when_the_decoder_grid_does_not_cover_it(clipseg_dir):
    # 44 px holds 5 whole patches of 8: the decoder paints 40×40, the source returns 44×44
    images = torch.randn(2, 3, 44, 44, generator=torch.Generator().manual_seed(2))
    source = ClipSeg(pretrained=str(clipseg_dir), image_size=44, template="a photo of a {}.")
    labels = torch.tensor([1, 8])
    prompts = [f"a photo of a {YOUTUBE_OBJECTS_CLASSES[i]}." for i in labels]
    expected = direct_maps(clipseg_dir, images, prompts, size=(44, 44))
    maps = source(images, labels)
    assert maps.shape == (2, 44, 44)
    torch.testing.assert_close(maps, expected, atol=1e-5, rtol=1e-5)


def test_each_frame_gets_its_own_class_prompt(source, images):
    frame = images[:1].expand(3, -1, -1, -1)
    maps = source(frame, torch.tensor([0, 1, 2]))
    for i in range(3):
        for j in range(i):
            assert (maps[i] - maps[j]).abs().max() > 1e-4, (i, j)
    torch.testing.assert_close(maps[1:2], source(images[:1], torch.tensor([1])))


def test_batch_invariance(source, images):
    labels = torch.tensor([4, 4, 6, 1])
    batched = source(images, labels)
    one_by_one = torch.cat([source(images[i : i + 1], labels[i : i + 1]) for i in range(4)])
    torch.testing.assert_close(batched, one_by_one, atol=1e-5, rtol=1e-5)


def test_processor_config_sets_size_and_normalization(clipseg_dir, tmp_path):
    folder = shutil.copytree(clipseg_dir, tmp_path / "with_processor")
    mean, std = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]
    cfg = {"image_mean": mean, "image_std": std, "size": {"height": 40, "width": 40}}
    (folder / "preprocessor_config.json").write_text(json.dumps(cfg))
    source = ClipSeg(pretrained=str(folder))
    assert source.input_size == (40, 40) and source.mean == tuple(mean) and source.std == tuple(std)
    assert ClipSeg(pretrained=str(folder), image_size=SIZE).input_size == (SIZE, SIZE)


def test_bad_inputs_are_refused(source, images):
    with pytest.raises(ValueError, match="expects 48x48"):
        source(torch.zeros(1, 3, 40, 40), torch.tensor([0]))
    with pytest.raises(ValueError, match="label 10 is not a class id"):
        source(images[:1], torch.tensor([10]))
    with pytest.raises(ValueError, match="has no '\\{\\}'"):
        ClipSeg(pretrained="unused", template="a photo")


def test_missing_weights_folder_says_where_to_get_it(tmp_path, clipseg_dir):
    missing = tmp_path / "nowhere" / "clipseg-rd64-refined"
    with pytest.raises(FileNotFoundError) as err:
        ClipSeg(pretrained=str(missing))
    assert str(missing) in str(err.value) and "not found" in str(err.value)
    assert "https://huggingface.co/CIDAS/clipseg-rd64-refined" in str(err.value)

    with pytest.raises(FileNotFoundError, match="no weights folder given.*huggingface.co"):
        ClipSeg()

    config_only = tmp_path / "config_only"
    config_only.mkdir()
    shutil.copy(clipseg_dir / "config.json", config_only)
    with pytest.raises(FileNotFoundError, match="lacks model.safetensors .*or pytorch_model.bin"):
        ClipSeg(pretrained=str(config_only))

    with pytest.raises(FileNotFoundError, match="is a file, not a folder"):
        ClipSeg(pretrained=str(clipseg_dir / "config.json"))


def test_checkpoint_mismatch_is_reported_key_by_key(clipseg_dir, tmp_path):
    folder = shutil.copytree(clipseg_dir, tmp_path / "broken")
    state = load_file(folder / "model.safetensors")
    dropped, reshaped = "decoder.film_mul.bias", "decoder.film_add.weight"
    del state[dropped]
    state[reshaped] = torch.zeros(3, 3)
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ValueError) as err:
        ClipSeg(pretrained=str(folder))
    message = str(err.value)
    assert f"missing:    {dropped} (8,)" in message
    assert f"shape:      {reshaped} file (3, 3) vs model (8, 16)" in message


def test_weights_files_name_the_folder():
    (weights,) = ClipSeg.weights_files()
    assert weights.name == "clipseg_rd64_refined" and weights.filename == "clipseg-rd64-refined"
    assert weights.arg == "pretrained"
    assert "https://huggingface.co/CIDAS/clipseg-rd64-refined" in weights.source


def _as_2022_upload(clipseg_dir, folder):
    """The folder as CIDAS uploaded it in 2022: pytorch_model.bin (torch.save) with the then-persistent
    position_ids buffers, no safetensors."""
    folder = shutil.copytree(clipseg_dir, folder)
    state = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    state["clip.text_model.embeddings.position_ids"] = torch.arange(77)[None]
    state["clip.vision_model.embeddings.position_ids"] = torch.arange(17)[None]
    torch.save(state, folder / "pytorch_model.bin")
    return folder


def test_the_2022_bin_layout_gives_the_same_maps(clipseg_dir, images, tmp_path):
    old = ClipSeg(pretrained=str(_as_2022_upload(clipseg_dir, tmp_path / "old")), image_size=SIZE)
    new = ClipSeg(pretrained=str(clipseg_dir), image_size=SIZE)
    labels = torch.tensor([0, 3, 5, 9])
    assert torch.equal(old(images, labels), new(images, labels))


def test_a_planted_pickle_in_the_folder_never_runs(clipseg_dir, tmp_path):
    import os

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    folder = _as_2022_upload(clipseg_dir, tmp_path / "evil")
    torch.save({"clip.logit_scale": Payload()}, folder / "pytorch_model.bin")
    with pytest.raises(FileNotFoundError, match="pytorch_model.bin: refused, it cannot be loaded with weights_only=True"):
        ClipSeg(pretrained=str(folder))
    assert not (tmp_path / "pwned").exists()
