"""Safe YAML configs: loading with ``_base_`` inheritance, and checking before any work."""

from wsvol.config.checker import check_config
from wsvol.config.loader import ConfigError, load_config, parse_cfg_options, provenance_of
from wsvol.config.types import Kind, Range, bounded, component

__all__ = ["ConfigError", "Kind", "Range", "bounded", "check_config", "component", "load_config", "parse_cfg_options",
           "provenance_of"]
