"""What the tests that shrink shipped configs share: ``--cfg-options`` as a config of their own, and
the narrow ResNet their end-to-end runs train."""

from __future__ import annotations

#: ``backbone_kwargs`` of the synthetic configs' ResNet-18 at a quarter of its widths: about a tenth
#: of the time, for the runs that check a pipeline's stages rather than what a network learns.
NARROW_RESNET = {"channels": [16, 32, 64, 128], "stem_width": 16}


def narrow_resnet_options(key: str = "model.backbone_kwargs") -> list[str]:
    """``--cfg-options`` setting :data:`NARROW_RESNET` under ``key``."""
    return [f"{key}.channels=[{','.join(map(str, NARROW_RESNET['channels']))}]",
            f"{key}.stem_width={NARROW_RESNET['stem_width']}"]


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
