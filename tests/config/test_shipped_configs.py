"""Every config the project ships passes the checker (types, keys, values)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsvol.config import check_config, load_config

CONFIGS = sorted(p for p in (Path(__file__).parents[2] / "configs").rglob("*.yaml") if "_base_" not in p.parts)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_shipped_config_is_valid(path):
    from wsvol.registry import PSEUDO_LABEL_SOURCES

    if "clipseg" in path.name and "clipseg" not in PSEUDO_LABEL_SOURCES.entries():
        pytest.skip("needs the wsvol-clipseg plugin (pip install plugins/wsvol-clipseg; tox -e clipseg)")
    check_config(load_config(path))


DATA_DOC = (Path(__file__).parents[2] / "docs" / "data.md").read_text()


@pytest.mark.parametrize("path", [p for p in CONFIGS if "yto" in p.stem],
                         ids=lambda p: str(p.relative_to(p.parents[1])))
def test_youtube_objects_configs_read_the_folders_the_docs_create(path):
    """Each YTO config's data_root and folds_root are the folders docs/data.md's steps make."""
    from wsvol.engine.job import dataset_configs

    version = "v2.2" if "ytov22" in path.stem else "v1.0"
    datasets = dataset_configs(load_config(path))
    assert set(datasets) == {"train", "val", "test"}
    for ds in datasets.values():
        assert (ds["data_root"], ds["folds_root"]) == (f"data/YouTube-Objects-{version}",
                                                       f"folds/YouTube-Objects-{version}")
    steps = {"v1.0": ["mkdir -p data/YouTube-Objects-v1.0",
                      "wsvol data prepare ytov1 data/YouTube-Objects-v1.0 folds/YouTube-Objects-v1.0",
                      "`unzip wsol-done-right-splits.zip -d folds` gives `folds/YouTube-Objects-v1.0/`"],
             "v2.2": ["mkdir -p data/YouTube-Objects-v2.2-original",
                      "wsvol data prepare ytov22 data/YouTube-Objects-v2.2-original folds/YouTube-Objects-v2.2 \\\n"
                      "       --data-root data/YouTube-Objects-v2.2"]}[version]
    for step in steps:
        assert step in DATA_DOC, step
