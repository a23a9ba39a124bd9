"""Offline tokenization of CLIPSeg prompts: the weights folder's own tokenizer, else open_clip's.

CLIPSeg's text tower is CLIP's, so both give the same ids: ``<|startoftext|>`` (49406), the BPE
tokens, ``<|endoftext|>`` (49407), then padding. The text tower attends causally and pools at the
end token, so what follows that token (the pad id, the attention mask) cannot change the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

#: files that make a Hugging Face tokenizer loadable from a folder (either set is enough)
TOKENIZER_FILE_SETS = (("tokenizer.json",), ("vocab.json", "merges.txt"))


def has_local_tokenizer(folder: str | Path) -> bool:
    """True when ``folder`` holds the files of a Hugging Face (CLIP) tokenizer."""
    return any(all((Path(folder) / f).is_file() for f in files) for files in TOKENIZER_FILE_SETS)


def tokenize(
    prompts: Sequence[str], folder: str | Path, context_length: int
) -> tuple[Tensor, Tensor, str]:
    """``(input_ids, attention_mask, kind)`` for ``prompts``, never touching the network.

    ``kind`` is ``"transformers"`` when the folder's own tokenizer was used, ``"open_clip"`` for
    the tokenizer open_clip ships. Rows are padded to a common length of at most
    ``context_length`` and always end their prompt with the end token.
    """
    if has_local_tokenizer(folder):
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        enc = tokenizer(
            list(prompts), padding=True, truncation=True, max_length=context_length,
            return_tensors="pt",
        )  # fmt: skip
        return enc["input_ids"], enc["attention_mask"], "transformers"
    ids, mask = open_clip_tokenize(prompts, context_length)
    return ids, mask, "open_clip"


def open_clip_tokenize(prompts: Sequence[str], context_length: int) -> tuple[Tensor, Tensor]:
    """open_clip's CLIP BPE ids (zero-padded) and a mask covering each row up to its end token."""
    from open_clip.tokenizer import SimpleTokenizer

    tokenizer = SimpleTokenizer()
    ids = tokenizer(list(prompts), context_length=context_length)
    # id 0 is the token "!", so the mask comes from the end token's position, not from ids != 0
    end = (ids == tokenizer.eot_token_id).int().argmax(-1)
    mask = (torch.arange(ids.shape[1]) <= end[:, None]).long()
    return ids, mask
