"""Safe YAML configs: loading with ``_base_`` inheritance, and checking before any work."""

from wsvol.config.checker import Kind, check_config, component
from wsvol.config.loader import ConfigError, load_config, parse_cfg_options, provenance_of

__all__ = ["ConfigError", "Kind", "check_config", "component", "load_config", "parse_cfg_options", "provenance_of"]
