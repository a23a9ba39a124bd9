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
