"""How ``wsvol … --help`` pages are laid out."""

from __future__ import annotations

import argparse

#: ``--launcher`` choices: torchrun (``pytorch``), SLURM's srun and Open MPI's mpirun, as in mmengine
#: (``wsvol.engine.job.launcher_environment`` reads what each sets).
LAUNCHERS = ("none", "pytorch", "slurm", "mpi")


class ExamplesFormatter(argparse.HelpFormatter):
    """Descriptions wrapped to the terminal as usual; an epilog of examples (text starting with
    ``example``) kept line by line, so commands can be copied."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("example"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)
