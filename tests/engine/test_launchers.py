"""--launcher slurm and mpi: the ranks, world size and rendezvous come from what srun / mpirun set,
as in mmengine; on CPU wsvol starts gloo from them itself."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from wsvol.engine.job import launcher_environment

KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@pytest.fixture
def clean_env(monkeypatch):
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)
    return monkeypatch


def test_slurm_variables(clean_env):
    for key, value in {"SLURM_PROCID": "3", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1",
                       "SLURM_NODELIST": "node[0-1]", "MASTER_ADDR": "node0"}.items():
        clean_env.setenv(key, value)
    launcher_environment("slurm")
    assert [os.environ[k] for k in KEYS] == ["3", "8", "1", "node0", "29500"]


def test_mpi_variables(clean_env):
    for key, value in {"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "4",
                       "OMPI_COMM_WORLD_LOCAL_RANK": "0", "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "1234"}.items():
        clean_env.setenv(key, value)
    launcher_environment("mpi")
    assert [os.environ[k] for k in KEYS] == ["2", "4", "0", "10.0.0.1", "1234"]


def test_what_is_missing_is_named(clean_env):
    clean_env.delenv("SLURM_PROCID", raising=False)
    with pytest.raises(RuntimeError, match=r"--launcher slurm: \$SLURM_PROCID is not set \(run the command under srun\)"):
        launcher_environment("slurm")
    clean_env.setenv("OMPI_COMM_WORLD_RANK", "0")
    clean_env.setenv("OMPI_COMM_WORLD_SIZE", "2")
    with pytest.raises(RuntimeError, match=r"\$MASTER_ADDR is not set \(the address of rank 0"):
        launcher_environment("mpi")


WORKER = """
import torch, torch.distributed as dist
from mmengine.config import Config
from wsvol.engine.job import init_distributed
cfg = Config({"launcher": "slurm", "env_cfg": {"dist_cfg": {"backend": "nccl"}}})  # as default_runtime.yaml
init_distributed(cfg)
x = torch.tensor([dist.get_rank() + 1.0])
dist.all_reduce(x)
print(dist.get_rank(), dist.get_world_size(), int(x.item()), cfg.env_cfg.dist_cfg.backend)
dist.destroy_process_group()
"""


@pytest.mark.dist
def test_two_processes_meet_under_slurm_variables(tmp_path):
    with socket.socket() as s:  # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for rank in range(2):
        env = {**{k: v for k, v in os.environ.items() if k not in KEYS}, "CUDA_VISIBLE_DEVICES": "",
               "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[2]),
               "SLURM_PROCID": str(rank), "SLURM_NTASKS": "2", "SLURM_LOCALID": str(rank),
               "SLURM_NODELIST": "localhost", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
        procs.append(subprocess.Popen([sys.executable, "-c", WORKER], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outs]
    assert sorted(out.split() for out, _ in outs) == [["0", "2", "3", "gloo"], ["1", "2", "3", "gloo"]]
