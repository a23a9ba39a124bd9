"""The TorchScript reader: OpenAI's archive layout read exactly, without running any of it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from standins import payload_bytes

from wsvol.weights.torchscript import (
    TorchScriptArchiveError,
    is_torchscript_archive,
    read_torchscript_state_dict,
)

pytestmark = [pytest.mark.filterwarnings("ignore:.torch.load. received a zip file"),
              pytest.mark.filterwarnings("ignore:.torch.jit.load. is deprecated")]


def rewrite_zip(src: Path, dst: Path, replace: dict[str, bytes]) -> Path:
    """Copy a zip, replacing the records whose names end with a key; every record stored."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            for suffix, new in replace.items():
                if info.filename.endswith(suffix):
                    data = new
            zout.writestr(info.filename, data)
    return dst


def test_the_stand_in_has_the_archive_layout(tiny_archive):
    path, _ = tiny_archive
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    top = names[0].split("/")[0]
    assert {f"{top}/data.pkl", f"{top}/constants.pkl", f"{top}/version"} <= set(names)
    assert any(n.startswith(f"{top}/code/__torch__/") for n in names)
    assert any(n.startswith(f"{top}/data/") for n in names)
    assert is_torchscript_archive(path)
    with pytest.raises(RuntimeError, match="TorchScript archives"):  # why wsvol needs its own reader
        torch.load(path, weights_only=True)


def test_reader_gives_exactly_the_state_dict_jit_load_gives(tiny_archive):
    path, written = tiny_archive
    state = read_torchscript_state_dict(path)
    oracle = torch.jit.load(str(path)).state_dict()  # our own file: jit.load as a test oracle only
    assert list(state) == list(oracle) == list(written)
    for key, value in oracle.items():
        assert state[key].dtype == value.dtype and torch.equal(state[key], value), key
    # OpenAI's mixed precision (convert_weights): fp16 Conv/Linear/MHA weights and projections
    assert state["visual.conv1.weight"].dtype == torch.float16
    assert state["visual.transformer.resblocks.0.attn.in_proj_weight"].dtype == torch.float16
    assert state["text_projection"].dtype == state["visual.proj"].dtype == torch.float16
    for key in ("visual.ln_pre.weight", "visual.class_embedding", "visual.positional_embedding",
                "token_embedding.weight", "positional_embedding", "ln_final.weight", "logit_scale"):
        assert state[key].dtype == torch.float32, key
    assert state["logit_scale"].shape == ()
    for key in ("input_resolution", "context_length", "vocab_size"):
        assert state[key].dtype == torch.int64 and state[key].shape == ()
    assert "attn_mask" not in state


def test_reader_needs_neither_jit_load_nor_torch_load(tiny_archive, monkeypatch):
    from wsvol.weights.formats import read_weights

    def forbidden(*args, **kwargs):
        raise AssertionError("called")

    monkeypatch.setattr(torch.jit, "load", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    weights = read_weights(tiny_archive[0])
    assert weights.format == "openai_clip" and "visual.proj" in weights.state


def test_reader_never_reads_the_code_or_the_constants(tiny_archive, tmp_path):
    broken = rewrite_zip(tiny_archive[0], tmp_path / "code.pt",
                         {".py": b"raise SystemExit('code ran')\n", "constants.pkl": b"junk"})
    with pytest.raises(RuntimeError):
        torch.jit.load(str(broken))  # torch compiles code/ and reads constants.pkl
    assert read_torchscript_state_dict(broken).keys() == read_torchscript_state_dict(tiny_archive[0]).keys()


def test_planted_code_in_data_pkl_never_runs(tiny_archive, tmp_path):
    marker = tmp_path / "pwned"
    payload = payload_bytes(marker)
    # the payload is live: plain pickle runs it (in another process)
    subprocess.run([sys.executable, "-c", "import pickle,sys; pickle.loads(sys.stdin.buffer.read())"],
                   input=payload, check=True)
    assert marker.exists()
    marker.unlink()
    evil = rewrite_zip(tiny_archive[0], tmp_path / "ViT-B-16.pt", {"/data.pkl": payload})
    from wsvol.weights import WeightsError, read_weights

    with pytest.raises(WeightsError, match="refused global posix.system|refused global os.system"):
        read_weights(evil)
    assert not marker.exists()


@pytest.mark.parametrize("body, match", [
    # a TorchScript class called like a function (REDUCE) instead of NEWOBJ
    (b"c__torch__.model\nCLIP\n(S'x'\ntR.", "calling a TorchScript class"),
    # BUILD of a module with a non-dict state
    (b"c__torch__.model\nCLIP\n)\x81S'x'\nb.", "not a dict of attributes"),
    # the tensor rebuild fed something that is not a storage record
    (b"ctorch._utils\n_rebuild_tensor_v2\n(S'x'\nI0\n(I1\nt(I1\ntI00\nccollections\nOrderedDict\n)RtR.",
     "not a storage record"),
    # a storage type called as a constructor
    (b"ctorch\nFloatStorage\n(I10\ntR.", "not callable"),
    # a typed list whose items are not of its type
    (b"ctorch.jit._pickle\nbuild_intlist\n((lS'x'\natR.", "typed list that does not hold ints"),
    # anything else by name
    (b"cbuiltins\neval\n(S'1'\ntR.", "refused global builtins.eval"),
    (b"ctorch.jit._pickle\nbuild_tensor_from_id\n(I0\ntR.", "refused global torch.jit._pickle"),
])  # fmt: skip
def test_crafted_pickles_are_refused(tiny_archive, tmp_path, body, match):
    crafted = rewrite_zip(tiny_archive[0], tmp_path / "crafted.pt", {"/data.pkl": b"\x80\x02" + body})
    with pytest.raises(TorchScriptArchiveError, match=match):
        read_torchscript_state_dict(crafted)


def test_typed_lists_and_type_tags_are_plain_data(tiny_archive, tmp_path):
    """A module attribute written with TorchScript's list helpers reads as the list; no tensor."""
    body = (b"c__torch__.m\nM\n)\x81}(S'sizes'\nctorch.jit._pickle\nbuild_intlist\n((lI1\naI2\natR"
            b"S'tags'\nctorch.jit._pickle\nrestore_type_tag\n((lS'a'\naS'List[str]'\ntRub.")
    crafted = rewrite_zip(tiny_archive[0], tmp_path / "lists.pt", {"/data.pkl": b"\x80\x02" + body})
    assert read_torchscript_state_dict(crafted) == {}


def test_storage_record_of_the_wrong_size_is_refused(tiny_archive, tmp_path):
    short = rewrite_zip(tiny_archive[0], tmp_path / "short.pt", {"/data/0": b"\0" * 6})
    with pytest.raises(TorchScriptArchiveError, match="6 bytes"):
        read_torchscript_state_dict(short)
