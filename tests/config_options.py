"""What the tests that shrink shipped configs share: ``--cfg-options`` as a config of their own."""

from __future__ import annotations


def options_as_config(options: list[str], base: str) -> str:
    """A config inheriting ``base`` that sets ``key.sub=value`` options (values are YAML), each key once."""
    import yaml

    tree: dict = {"_base_": base}
    for option in options:
        key, value = option.split("=", 1)
        *parents, last = key.split(".")
        node = tree
        for parent in parents:
            node = node.setdefault(parent, {})
        node[last] = yaml.safe_load(value)
    return yaml.safe_dump(tree, sort_keys=False)
