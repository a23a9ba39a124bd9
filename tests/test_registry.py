"""Registries build registered names only: a dotted ``type`` is never imported (mmengine's
fallback would build ``subprocess.Popen`` or import ``<scope>.registry`` from the working
directory), so no config, stored config or export metadata can run code through a name."""

from __future__ import annotations

import sys

import mmengine.registry as mm
import pytest

from wsvol.config import ConfigError, check_config, load_config
from wsvol.data.dataset import build_pipeline
from wsvol.registry import HOOKS, MODELS, TRANSFORMS


@pytest.fixture
def trap(tmp_path, monkeypatch):
    """A package ``trapkg`` importable from the working directory, whose ``registry`` module
    leaves a file when imported, and the file a ``subprocess.Popen`` payload would create."""
    (tmp_path / "trapkg").mkdir()
    (tmp_path / "trapkg" / "__init__.py").write_text("")
    (tmp_path / "trapkg" / "registry.py").write_text(
        f"open({str(tmp_path / 'imported')!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    sys.modules.pop("trapkg", None)
    sys.modules.pop("trapkg.registry", None)


@pytest.mark.parametrize("registry", [MODELS, TRANSFORMS, HOOKS, mm.VISUALIZERS, mm.MODELS],
                         ids=lambda r: f"{r.scope}.{r.name}")
def test_a_dotted_name_is_not_imported_by_any_registry(registry, trap):
    for name in ("subprocess.Popen", "os.system", "trapkg.thing", "builtins.exec"):
        assert registry.get(name) is None
        with pytest.raises(KeyError):
            registry.build({"type": name, "args": ["touch", str(trap / "ran")]})
    assert not (trap / "ran").exists() and not (trap / "imported").exists()
    assert "trapkg.registry" not in sys.modules


def test_registered_names_still_resolve_with_and_without_their_scope():
    assert MODELS.get("trcamv") is MODELS.get("wsvol.trcamv") is not None
    assert mm.OPTIMIZERS.get("SGD") is mm.OPTIMIZERS.get("mmengine.SGD") is not None


def test_the_checker_and_the_pipeline_refuse_a_dotted_type(trap):
    (trap / "evil.yaml").write_text("model: {type: subprocess.Popen, args: [touch, ran]}\n")
    with pytest.raises(ConfigError, match=r"evil.yaml:1: model.type: unknown model type 'subprocess.Popen'"):
        check_config(load_config(trap / "evil.yaml"))
    with pytest.raises(KeyError, match="unknown transform type 'subprocess.Popen'"):  # e.g. an export's metadata
        build_pipeline([{"type": "subprocess.Popen", "args": ["touch", str(trap / "ran")]}])
    assert not (trap / "ran").exists() and not (trap / "imported").exists()
