"""The network of the docs test: stand-in ``curl``, ``wget`` and ``hf`` that, for the addresses the
docs name, write a stand-in of what is published there instead of downloading it.

- The weights of docs/weights.md: random-init files in the published containers and key layouts,
  at full size (the writers of ``tests/standins.py``); the Hugging Face repositories as folders.
- The YouTube-Objects archives of docs/data.md: ``<class>.tar.gz`` of v1.0 (ETH), unpacking to
  ``<class>/sets/`` and ``<class>/data/<video>/shots/<shot>/frameNNNN.jpg`` with the boxes'
  ``_sticks.mat``, built from the real published v1.0 folds (a few videos and frames of three
  classes); v2.2's (CALVIN) ``Ranges``, ``GroundTruth`` and ``<class>.tar.gz``, a small release as
  the ``wsvol data prepare ytov22`` tests build it. Frames are black JPEGs at their listed sizes.

Each address is made once per test session under ``$DOCS_TEST_SERVER`` and copied from there.
Every fetch is logged to ``$DOCS_TEST_FETCHED`` (``served URL`` or ``refused URL``): an unknown
address fails the command, and the test fails on a refusal even where the shell went on.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
for _folder in (TESTS, TESTS / "data" / "releases"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

#: The real v1.0 fold files (as tests/conftest.py finds them): the v1.0 stand-in release is made from them.
V1_FOLDS_ZIP = Path(os.environ.get("WSVOL_SHARED_DATA") or ROOT.parent / "shared" / "data") / "youtube-objects-v1.0-folds.zip"
V1_URL = re.compile(r"https://data\.vision\.ee\.ethz\.ch/cvl/youtube-objects/categories/(?P<cls>\w+)\.tar\.gz")
V22_URL = re.compile(r"http://calvin-vision\.net/bigstuff/youtube-objectsv2/(?P<name>\w+)\.tar\.gz")
V1_LIMIT = 1  # test and train videos per class, frames or shots per video (all 5 val videos stay)
#: The classes whose videos the stand-in releases hold (every class has its folders; these have frames).
CLASSES = ("aeroplane", "cat", "horse")


class Refused(Exception):
    """An address the stand-in network does not serve."""


def _server() -> Path:
    folder = Path(os.environ["DOCS_TEST_SERVER"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _once(name: str, make: Callable[[Path], None]) -> Path:
    """``make(path)`` the first time ``name`` is asked for in this session; its path."""
    path = _server() / name
    if not path.exists():
        tmp = path.with_name(path.name + ".part")
        shutil.rmtree(tmp, ignore_errors=True)
        make(tmp)
        tmp.rename(path)
    return path


# -- weights -------------------------------------------------------------------------------------
WEIGHTS_FILES = ("ViT-B-16.pt", "dino_deitsmall16_pretrain.pth", "deit_small_patch16_224-cd65a155.pth",
                 "dinov2_vits14_pretrain.pth", "resnet50-0676ba61.pth")  # the files docs/weights.md fetches


def _weights_writers() -> dict[str, Callable[[Path], object]]:
    import standins as s

    return {"ViT-B-16.pt": s.write_openai_clip_torchscript, "dino_deitsmall16_pretrain.pth": s.write_dino,
            "deit_small_patch16_224-cd65a155.pth": s.write_deit, "dinov2_vits14_pretrain.pth": s.write_dinov2,
            "resnet50-0676ba61.pth": s.write_resnet50}


def _hf_repo(repo: str, folder: Path) -> None:
    """A Hugging Face repository the docs download from, in its published layout."""
    import standins as s

    folder.mkdir(parents=True)
    if repo == "CIDAS/clipseg-rd64-refined":
        shutil.rmtree(folder)
        s.write_clipseg_folder(folder, layout="bin")  # the 2022 upload's form
    elif repo == "timm/vit_base_patch16_clip_224.openai":
        s.write_open_clip_state_dict(folder / "open_clip_model.safetensors", s.TINY_CLIP)
    elif repo == "timm/vit_small_patch14_dinov2.lvd142m":
        from safetensors.torch import save_file

        state = s.random_state(s.dinov2_layout())
        del state["mask_token"]  # timm's copy
        save_file(state, str(folder / "model.safetensors"))
    else:
        raise Refused(f"404 Client Error: Repository Not Found for url: https://huggingface.co/{repo}")


def catalogued_url(filename: str) -> str:
    """The address in the weights catalogue (wsvol.weights) that publishes ``filename``."""
    from wsvol.weights import WEIGHTS

    for wf in WEIGHTS.values():
        for url in re.findall(r"https://[^\s)`]+", wf.source):
            if url.endswith("/" + filename):
                return url
    raise KeyError(filename)


# -- YouTube-Objects -----------------------------------------------------------------------------
def _v1_release(folder: Path) -> None:
    from release_trees import write_v1_release_from_folds

    if not V1_FOLDS_ZIP.is_file():
        raise Refused(f"the v1.0 stand-in release is made from the real fold files, which are not here: {V1_FOLDS_ZIP}")
    with zipfile.ZipFile(V1_FOLDS_ZIP) as z:
        z.extractall(folder / "folds")
    write_v1_release_from_folds(folder / "folds" / "YouTube-Objects-v1.0", folder / "release", limit=V1_LIMIT,
                                classes=CLASSES)


def _v22_release(folder: Path) -> None:
    """Per class of ``CLASSES``, 5 videos of one 2-frame shot in ranges order: the first 4 with a
    ``bb_gtTraining`` box (3 val, 1 train), the last a test video with two ``bb_gtTest`` boxes."""
    from release_trees import write_v22_release

    shots = {c: [(v, 2 * v - 1, 2 * v) for v in range(1, 6)] for c in CLASSES}
    gt = {c: {"bb_gtTraining": [(2 * v - 1, [[40 + v, 30, 400, 300]]) for v in range(1, 5)],
              "bb_gtTest": [(10, [[60, 50, 500, 420], [5, 5, 100, 90]])]} for c in CLASSES}
    sizes = {(c, v): (640, 480) for c in CLASSES for v in range(1, 6)}
    write_v22_release(folder, shots, gt, sizes)


def _tarball(release: Path, top: str, path: Path) -> None:
    if not (release / top).is_dir():
        raise Refused(f"404 Not Found: no {top}.tar.gz in the release")
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        tar.add(release / top, arcname=top)


# -- serving -------------------------------------------------------------------------------------
def serve_url(url: str) -> Path:
    """The stand-in of what ``url`` publishes (a file), made once per session."""
    m = V1_URL.fullmatch(url)
    if m:
        release = _once("ytov1", _v1_release) / "release"
        return _once(f"ytov1-{m['cls']}.tar.gz", lambda p: _tarball(release, m["cls"], p))
    m = V22_URL.fullmatch(url)
    if m:
        release = _once("ytov22", _v22_release)
        return _once(f"ytov22-{m['name']}.tar.gz", lambda p: _tarball(release, m["name"], p))
    filename = url.rsplit("/", 1)[-1]
    if filename not in WEIGHTS_FILES or catalogued_url(filename) != url:
        raise Refused(f"404 Not Found: {url} (not an address the docs test stands in for)")
    return _once(filename, lambda p: _weights_writers()[filename](p))


def serve_repo(repo: str) -> Path:
    """The stand-in of a Hugging Face repository (a folder), made once per session."""
    return _once("hf-" + repo.replace("/", "--"), lambda p: _hf_repo(repo, p))


def _log(line: str) -> None:
    with open(os.environ["DOCS_TEST_FETCHED"], "a", encoding="utf-8") as f:
        f.write(line + "\n")


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, dirs_exist_ok=True)
    else:
        shutil.copyfile(src, dst)


def curl(argv: list[str]) -> None:
    """``curl [-L] [-o FILE | -O] URL``: FILE, or the URL's file name with ``-O``, else stdout."""
    out, url, remote_name, i = None, None, False, 0
    while i < len(argv):
        a = argv[i]
        if a in ("-o", "--output"):
            out, i = argv[i + 1], i + 2
            continue
        if a in ("-O", "--remote-name"):
            remote_name = True
        elif not a.startswith("-"):
            url = a
        i += 1
    if url is None:
        raise Refused("curl: no URL specified")
    src = serve_url(url)
    if out is None and not remote_name:
        sys.stdout.buffer.write(src.read_bytes())
    else:
        _copy(src, Path(out or url.rsplit("/", 1)[-1]))
    _log(f"served {url}")


def wget(argv: list[str]) -> None:
    """``wget [-nc] [-O FILE] [-P DIR] URL...``: each URL's file name in DIR (default: here)."""
    out, prefix, no_clobber, urls, i = None, Path("."), False, [], 0
    while i < len(argv):
        a = argv[i]
        if a in ("-O", "--output-document"):
            out, i = argv[i + 1], i + 2
            continue
        if a in ("-P", "--directory-prefix"):
            prefix, i = Path(argv[i + 1]), i + 2
            continue
        if a in ("-nc", "--no-clobber"):
            no_clobber = True
        elif not a.startswith("-"):
            urls.append(a)
        i += 1
    if not urls:
        raise Refused("wget: missing URL")
    for url in urls:
        dst = Path(out) if out else prefix / url.rsplit("/", 1)[-1]
        if no_clobber and dst.exists():
            print(f"File '{dst}' already there; not retrieving.", file=sys.stderr)
            continue
        _copy(serve_url(url), dst)
        _log(f"served {url}")


def hf(argv: list[str]) -> None:
    """``hf download REPO [FILE...] --local-dir DIR``: the repository, or the files named, into DIR."""
    if not argv or argv[0] != "download":
        raise Refused("hf: the docs test stands in for `hf download` only")
    repo, files, local_dir, i = None, [], None, 1
    while i < len(argv):
        if argv[i] == "--local-dir":
            local_dir, i = Path(argv[i + 1]), i + 2
            continue
        if repo is None:
            repo = argv[i]
        else:
            files.append(argv[i])
        i += 1
    if repo is None or local_dir is None:
        raise Refused("hf download: the docs test stands in for `hf download REPO [FILE...] --local-dir DIR`")
    src = serve_repo(repo)
    for name in files or [p.relative_to(src).as_posix() for p in sorted(src.rglob("*")) if p.is_file()]:
        if not (src / name).is_file():
            raise Refused(f"404 Client Error: Entry Not Found for url: https://huggingface.co/{repo}/resolve/main/{name}")
        _copy(src / name, local_dir / name)
    print(local_dir)
    _log(f"served hf {repo} {' '.join(files)}".rstrip())


def standin_weights(argv: list[str]) -> None:
    """``standin-weights NAME...``: the published file of each weights name into the weights folder
    (what docs/weights.md has a user fetch; for pages that assume it was done)."""
    from wsvol.weights import WEIGHTS, weights_dir

    for name in argv:
        filename = WEIGHTS[name].filename
        _copy(serve_url(catalogued_url(filename)), weights_dir() / filename)
        _log(f"placed {name}")


TOOLS = {"curl": curl, "wget": wget, "hf": hf, "standin-weights": standin_weights}


def main(tool: str, argv: list[str]) -> int:
    """Run stand-in ``tool``; a refusal is logged and exits non-zero, as the real tool would."""
    try:
        TOOLS[tool](argv)
    except Refused as err:
        _log(f"refused {tool} {' '.join(argv)}: {err}")
        print(f"{tool} (docs test stand-in): {err}", file=sys.stderr)
        return 8 if tool == "wget" else 22 if tool == "curl" else 1
    return 0
