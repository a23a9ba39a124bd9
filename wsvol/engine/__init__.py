"""Training and running: the mmengine runner, hooks, and the ``wsvol run`` pipeline."""

from wsvol.engine import hooks, loss_schedule, runner  # noqa: F401  (registers components)
