"""``custom_imports``: Python modules a config imports so that their components register, as in
mmengine and mmdet::

    custom_imports:
      imports: [my_losses]            # module names, dotted for packages
      allow_failed_imports: false

Importing a module runs its code: a config with ``custom_imports`` runs the code of the modules
it names, exactly like mmengine's ``custom_imports`` or an installed plugin. Everything else in a
config is data (``yaml.safe_load``), so a config without the key runs no code; set
``WSVOL_NO_CUSTOM_IMPORTS=1`` to refuse every config that has it (e.g. configs from others).

Modules are looked up on ``sys.path``, then in the current directory, then in the folder of the
config file that sets ``custom_imports``.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from pathlib import Path

from wsvol.config.loader import ConfigError, Provenance, where

KEY = "custom_imports"
REFUSE_ENV = "WSVOL_NO_CUSTOM_IMPORTS"
#: The provider name components registered by a custom import are listed under.
PROVIDER = "custom_imports"


def import_custom_modules(data: dict, prov: Provenance | None = None) -> list[str]:
    """Import the modules of ``data['custom_imports']`` (after wsvol's built-ins and plugins, so
    that a name clash is blamed on the module); return their names."""
    spec = data.get(KEY)
    if spec is None:
        return []
    at = where(prov or {}, KEY)
    if not isinstance(spec, dict) or not set(spec) <= {"imports", "allow_failed_imports"}:
        raise ConfigError(f"{at}: {KEY}: expected a mapping with 'imports' (a list of module names) and "
                          f"optionally 'allow_failed_imports', got {spec!r}")
    names = spec.get("imports") or []
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(f"{at}: {KEY}.imports: expected a list of module names, got {names!r}")
    allow_failed = spec.get("allow_failed_imports", False)
    if not isinstance(allow_failed, bool):
        raise ConfigError(f"{at}: {KEY}.allow_failed_imports: expected true/false, got {allow_failed!r}")
    if names and os.environ.get(REFUSE_ENV, "") not in ("", "0"):
        raise ConfigError(f"{at}: {KEY} would import (run the code of) {', '.join(names)}, and "
                          f"${REFUSE_ENV} refuses configs that import code")

    from wsvol.plugin_manager import register_all
    from wsvol.registry import current_provider

    register_all()  # built-ins and plugins first
    origin = (prov or {}).get(KEY, "")
    folders = [Path.cwd()] + ([Path(origin.rsplit(":", 1)[0]).parent] if origin and origin != "--cfg-options" else [])
    for folder in folders:
        if str(folder) not in sys.path:
            sys.path.append(str(folder))  # after site-packages: a local file never shadows an installed module
    imported = []
    for name in names:
        token = current_provider.set(PROVIDER)
        try:
            importlib.import_module(name)
            imported.append(name)
        except Exception as exc:  # noqa: BLE001 - reported with the module and the config line
            message = f"{at}: {KEY}: cannot import {name!r}: {type(exc).__name__}: {exc}"
            if not allow_failed:
                raise ConfigError(message + " (searched sys.path, then " +
                                  ", ".join(str(f) for f in folders) + ")") from exc
            warnings.warn(message + " (skipped: allow_failed_imports is true)", stacklevel=2)
        finally:
            current_provider.reset(token)
    return imported

