"""The core sub-commands, one module per group. Parsers are built cheaply; each handler imports
what it needs."""

from __future__ import annotations

import argparse


def add_core_commands(sub: argparse._SubParsersAction) -> None:
    """Add run, train, test, visualize, compare, predict, pseudo-labels, weights, config, data, plugins, bench."""
    from wsvol.cli import (
        compare_commands,
        config_commands,
        data_commands,
        job_commands,
        plugin_commands,
        predict_commands,
        pseudo_label_commands,
        weights_commands,
    )

    for group in (job_commands, compare_commands, predict_commands, pseudo_label_commands, weights_commands, config_commands,
                  data_commands, plugin_commands):
        group.add_commands(sub)
