"""Test-wide settings: one torch thread (2-core machines run 5-100x slower with 2 busy threads);
the real fold files as a fixture."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` run when a CUDA device is present and are skipped otherwise. Tests
    marked ``rehearsal`` (tens of CPU minutes) run only when asked for: ``-m`` names the marker
    (``pytest -m rehearsal``, ``tox -e rehearsal``) or an argument names tests/rehearsal."""
    import pytest

    here = Path(__file__).resolve().parent / "rehearsal"
    named = [Path(a.split("::")[0]).resolve() for a in config.args]
    asked = "rehearsal" in (config.getoption("markexpr") or "") or any(p == here or here in p.parents for p in named)
    if not asked:
        left = [item for item in items if item.get_closest_marker("rehearsal")]
        if left:
            config.hook.pytest_deselected(items=left)
            items[:] = [item for item in items if not item.get_closest_marker("rehearsal")]
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (none found)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


# -- the real YouTube-Objects fold files (../shared/data beside the repository) ------------------
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

#: Real data files for tests: ``../shared/data`` beside the repository root, or ``$WSVOL_SHARED_DATA``.
SHARED_DATA = Path(os.environ.get("WSVOL_SHARED_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data")
V1_FOLDS_ZIP = SHARED_DATA / "youtube-objects-v1.0-folds.zip"


@pytest.fixture(scope="session")
def real_v1_folds(tmp_path_factory) -> Path:
    """The published YouTube-Objects v1.0 fold files (TCAM's), extracted once per session into a
    temporary folder: ``class_id.yaml``, ``train/``, ``val/``, ``test/``, ``test-video-demo/``."""
    import zipfile

    if not V1_FOLDS_ZIP.is_file():
        pytest.skip(f"the real YouTube-Objects v1.0 fold files are not here: {V1_FOLDS_ZIP} "
                    "(../shared/data beside the repository, or set WSVOL_SHARED_DATA)")
    out = tmp_path_factory.mktemp("real-v1-folds")
    with zipfile.ZipFile(V1_FOLDS_ZIP) as z:
        z.extractall(out)
    return out / "YouTube-Objects-v1.0"


@pytest.fixture
def stand_in_cuda():
    """A CUDA device on any machine, to test that code never waits for it (tests/stand_in_cuda.py)."""
    from stand_in_cuda import StandInCuda  # beside this file

    return StandInCuda()
