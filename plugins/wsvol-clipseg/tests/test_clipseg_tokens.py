"""Offline prompt tokenization: open_clip's ids are the ids CLIPSeg's text tower expects."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
import torch
from open_clip.tokenizer import bytes_to_unicode, default_bpe
from transformers import CLIPSegForImageSegmentation, CLIPTokenizer
from wsvol_clipseg.source import ClipSeg
from wsvol_clipseg.tokens import has_local_tokenizer, open_clip_tokenize, tokenize

from wsvol.data.classes import YOUTUBE_OBJECTS_CLASSES
from wsvol.pseudo_labels.clip_es import BACKGROUND_WORDS

SOT, EOT = 49406, 49407
PROMPTS = (
    *YOUTUBE_OBJECTS_CLASSES, *BACKGROUND_WORDS, "a clean origami aeroplane.", "A photo of a Motorbike!",
    "two  cats,  one dog's tail", "train #9 at 5pm", "cat !~ dog", "",
)  # fmt: skip


def write_clip_vocab(folder: Path) -> Path:
    """Write CLIP's ``vocab.json`` and ``merges.txt`` (as in the CLIPSeg folder) from open_clip's BPE.

    The vocabulary is laid out as CLIP's (bytes, bytes + '</w>', merges, then the two special
    tokens), so ids agree only if both libraries tokenize the same way.
    """
    merges = gzip.open(default_bpe()).read().decode("utf-8").split("\n")[1 : 49152 - 256 - 2 + 1]
    vocab = list(bytes_to_unicode().values())
    vocab += [v + "</w>" for v in vocab] + ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return folder


@pytest.fixture(scope="module")
def vocab_dir(tmp_path_factory) -> Path:
    return write_clip_vocab(tmp_path_factory.mktemp("clip_vocab"))


@pytest.fixture(scope="module")
def hf_tokenizer(vocab_dir) -> CLIPTokenizer:
    return CLIPTokenizer.from_pretrained(str(vocab_dir), local_files_only=True)


def test_open_clip_ids_have_clips_layout():
    ids, mask = open_clip_tokenize(PROMPTS, 77)
    assert ids.shape == mask.shape == (len(PROMPTS), 77)
    for row, m, prompt in zip(ids, mask, PROMPTS):
        end = int((row == EOT).nonzero()[0])
        assert row[0] == SOT and (row[1:end] < SOT).all(), prompt
        assert (row[end + 1 :] == 0).all() and m[: end + 1].all() and not m[end + 1 :].any()
    # "!~" splits into "!" (id 0, the padding's value) and "~": the mask still covers it
    bang = PROMPTS.index("cat !~ dog")
    assert ids[bang, 2] == 0 and mask[bang, :6].all() and ids[bang, 5] == EOT
    assert ids[PROMPTS.index("")].tolist()[:3] == [SOT, EOT, 0]


def test_truncation_keeps_the_end_token():
    ids, mask = open_clip_tokenize(["cat " * 100], 77)
    assert ids[0, -1] == EOT and mask.all()


def test_transformers_clip_tokenizer_gives_the_same_ids(hf_tokenizer):
    ids, mask = open_clip_tokenize(PROMPTS, 77)
    enc = hf_tokenizer(list(PROMPTS), padding="max_length", max_length=77, return_tensors="pt")
    hf_ids, hf_mask = enc["input_ids"], enc["attention_mask"]
    assert torch.equal(hf_mask, mask)
    # transformers pads with the end token, open_clip with 0; the tokens themselves agree
    assert torch.equal(torch.where(mask.bool(), hf_ids, 0), ids)


def test_local_tokenizer_files_are_preferred(clipseg_dir, tmp_path):
    folder = shutil.copytree(clipseg_dir, tmp_path / "weights")
    assert not has_local_tokenizer(folder)
    assert tokenize(["a cat"], folder, 77)[2] == "open_clip"
    write_clip_vocab(folder)  # the class comes from config.json's model_type (clipseg)
    assert has_local_tokenizer(folder)
    ids, mask, kind = tokenize(PROMPTS[:3], folder, 77)
    assert kind == "transformers"
    expected, expected_mask = open_clip_tokenize(PROMPTS[:3], 77)
    width = ids.shape[1]  # padded to the longest prompt
    assert torch.equal(mask, expected_mask[:, :width])
    assert torch.equal(torch.where(mask.bool(), ids, 0), expected[:, :width])


@pytest.mark.parametrize("eos", [2, 49407])
def test_padding_and_mask_do_not_change_the_prompt_embedding(clipseg_dirs, eos):
    model = CLIPSegForImageSegmentation.from_pretrained(str(clipseg_dirs[eos])).eval()
    prompts = ["aeroplane", "a motorbike !~", "cow"]
    ids, mask = open_clip_tokenize(prompts, 77)

    def embed(input_ids, attention_mask=None):
        with torch.no_grad():
            return model.get_conditional_embeddings(
                batch_size=len(input_ids), input_ids=input_ids, attention_mask=attention_mask
            )

    padded = embed(ids, mask)
    alone = torch.cat([embed(ids[i : i + 1, : int(m.sum())]) for i, m in enumerate(mask)])
    eot_padded = embed(torch.where(mask.bool(), ids, EOT))  # transformers' padding, no mask
    torch.testing.assert_close(padded, alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(eot_padded, alone, atol=1e-5, rtol=1e-5)
    assert (padded[0] - padded[2]).abs().max() > 1e-3  # the prompt itself does matter


def test_source_embeds_the_same_prompts_with_either_tokenizer(clipseg_dir, tmp_path):
    folder = write_clip_vocab(shutil.copytree(clipseg_dir, tmp_path / "with_tokenizer"))
    with_files = ClipSeg(pretrained=str(folder), image_size=32)
    fallback = ClipSeg(pretrained=str(clipseg_dir), image_size=32)
    assert (with_files.tokenizer_kind, fallback.tokenizer_kind) == ("transformers", "open_clip")
    torch.testing.assert_close(
        with_files.class_embeddings, fallback.class_embeddings, atol=1e-5, rtol=1e-5
    )
