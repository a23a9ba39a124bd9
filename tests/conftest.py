"""Test-wide settings: one torch thread (2-core machines run 5-100x slower with 2 busy threads)."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)
