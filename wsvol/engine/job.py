"""Setting up a job, in one order for every command.

config loaded and checked → distributed processes started → data generated or found, weights
found → torch threads → work dir. Nothing is written before the checks pass: a config, data or
weights problem stops the job with one message and leaves no work dir behind.
"""

from __future__ import annotations

import argparse
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Job:
    """A checked config, the work dir it writes into (None for commands that write none), and
    the torch threads it runs with."""

    cfg: object  #: the mmengine ``Config``
    work_dir: Path | None
    threads: int


def setup_job(args: argparse.Namespace, *, resume: str | None = None, work_dir: bool = True) -> Job:
    """The job of a command's ``config`` and flags (``--cfg-options``, ``--seed``, ``--amp``,
    ``--device``, ``--launcher``, ``--threads``, ``--work-dir``)."""
    cfg = load_checked_config(args)
    return start_job(cfg, args.config, work_dir=getattr(args, "work_dir", None), resume=resume,
                     threads=getattr(args, "threads", None), make_work_dir=work_dir)


def start_job(cfg, config_path: str | Path, *, work_dir: str | Path | None = None, resume: str | None = None,
              threads: int | None = None, make_work_dir: bool = True) -> Job:
    """Start a checked config: distributed init, preflight, threads, then (optionally) its work dir."""
    if cfg.get("launcher", "none") != "none":
        init_distributed(cfg)
    preflight(cfg)
    threads = set_threads(threads)
    work = prepare_work_dir(cfg, config_path, work_dir, resume) if make_work_dir else None
    return Job(cfg, work, threads)


# -- 1. the config ------------------------------------------------------------------------------
def load_checked_config(args: argparse.Namespace):
    """Load the config with overrides and CLI flags applied, and check it before any work."""
    if getattr(args, "device", None):
        select_device(args.device)
    from wsvol.config import ConfigError, check_config, load_config

    cfg = load_config(args.config, getattr(args, "cfg_options", None))
    if getattr(args, "seed", None) is not None:
        cfg.setdefault("randomness", {})
        cfg.randomness["seed"] = args.seed
    if getattr(args, "amp", False):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("--amp: mixed precision runs on a CUDA device (mmengine's AmpOptimWrapper) "
                              "and torch sees none here; leave --amp out on a CPU")
        cfg.setdefault("optim_wrapper", {})
        cfg.optim_wrapper["type"] = "AmpOptimWrapper"
    if getattr(args, "launcher", None):
        cfg.launcher = args.launcher
    check_config(cfg)
    return cfg


def select_device(device: str) -> None:
    """Restrict visible devices before torch initialises CUDA."""
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    elif device.startswith("cuda:"):
        os.environ["CUDA_VISIBLE_DEVICES"] = device.split(":", 1)[1]
    elif device != "cuda":
        raise ValueError(f"--device {device!r}: expected cpu, cuda or cuda:N")


# -- 2. distributed -----------------------------------------------------------------------------
def init_distributed(cfg) -> None:
    """Start torch.distributed before the runner (gloo without CUDA), so ranks can agree early."""
    import torch
    import torch.distributed
    from mmengine.dist import init_dist, is_distributed

    if is_distributed():
        return
    launcher_environment(cfg.launcher)
    if torch.cuda.is_available():
        init_dist(cfg.launcher, **cfg.get("env_cfg", {}).get("dist_cfg", {}))
    else:  # mmengine's init_dist insists on a CUDA device; on CPU start gloo ourselves
        cfg.setdefault("env_cfg", {}).setdefault("dist_cfg", {})["backend"] = "gloo"
        torch.distributed.init_process_group("gloo")


def launcher_environment(launcher: str) -> None:
    """Set ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` (29500
    unless set) from what srun or mpirun set, as mmengine's ``init_dist`` does; torchrun sets
    them itself. Raises naming the variable that is missing."""
    import subprocess

    env = os.environ

    def need(name: str, why: str) -> str:
        if name not in env:
            raise RuntimeError(f"--launcher {launcher}: ${name} is not set ({why})")
        return env[name]

    if launcher == "slurm":
        rank = need("SLURM_PROCID", "run the command under srun")
        env["WORLD_SIZE"] = need("SLURM_NTASKS", "run the command under srun")
        env["RANK"] = rank
        env["LOCAL_RANK"] = env.get("SLURM_LOCALID", rank)
        if "MASTER_ADDR" not in env:
            nodes = need("SLURM_NODELIST", "or set $MASTER_ADDR to the first node")
            first = subprocess.run(["scontrol", "show", "hostname", nodes], capture_output=True, text=True,
                                   check=False).stdout.split()
            if not first:
                raise RuntimeError(f"--launcher slurm: `scontrol show hostname {nodes}` gave no host; "
                                   "set $MASTER_ADDR to the first node")
            env["MASTER_ADDR"] = first[0]
    elif launcher == "mpi":
        env["RANK"] = need("OMPI_COMM_WORLD_RANK", "run the command under Open MPI's mpirun")
        env["WORLD_SIZE"] = need("OMPI_COMM_WORLD_SIZE", "run the command under Open MPI's mpirun")
        env["LOCAL_RANK"] = env.get("OMPI_COMM_WORLD_LOCAL_RANK", env["RANK"])
        need("MASTER_ADDR", "the address of rank 0, e.g. `mpirun -x MASTER_ADDR=node0 ...`")
    elif launcher not in ("pytorch", "none"):
        raise RuntimeError(f"--launcher {launcher}: expected none, pytorch (torchrun), slurm (srun) or mpi (mpirun)")
    if launcher in ("slurm", "mpi"):
        env.setdefault("MASTER_PORT", "29500")


# -- 3. data and weights ------------------------------------------------------------------------
def preflight(cfg) -> None:
    """Before any work: generate synthetic data if needed, resolve named weights, and stop with
    one message listing every missing dataset file and weight file."""
    from wsvol.data.folds import DataError
    from wsvol.weights import WeightsError, check_weights

    problems = []
    try:
        ensure_data(cfg)
    except DataError as exc:
        problems.append(str(exc))
    try:  # named weights → files (in place)
        check_weights(weights_sections(cfg))
    except WeightsError as exc:
        problems.append(str(exc))
    if problems:
        raise DataError("\n".join(problems))


def weights_sections(cfg) -> dict:
    """The parts of ``cfg`` whose weights must exist before the job starts: all but the pseudo-label
    source when a ``baseline`` stage makes its checkpoint."""
    return {k: v for k, v in cfg.items() if not (k == "pseudo_labels" and cfg.get("baseline"))}


def missing_weights(cfg) -> str | None:
    """What :func:`preflight` would say about ``cfg``'s weights files (None when all are found);
    ``cfg`` is left unchanged."""
    from wsvol.weights import WeightsError, check_weights

    try:
        check_weights(weights_sections(cfg), resolve_in_place=False)
    except WeightsError as exc:
        return str(exc)
    return None


def ensure_data(cfg) -> None:
    """Generate the synthetic dataset a config names if needed; fail at once if other data is missing."""
    from mmengine.dist import barrier, get_rank

    from wsvol.data.folds import DataError

    synth = cfg.get("synthetic")
    if synth and get_rank() == 0:  # kept when the same dataset is there; another version or seed there is refused
        from wsvol.data.synthetic import generate_synthetic

        generate_synthetic(synth["out"], seed=synth.get("seed", 0), size=synth.get("size", "small"), progress=True)
    barrier()  # the other ranks wait for rank 0's data (on a file system they share)
    missing = []
    for name, ds in dataset_configs(cfg).items():
        if not Path(ds["data_root"]).is_dir():
            missing.append(f"frames folder {ds['data_root']}/ (data_root)")
        ids = Path(ds["folds_root"]) / ds["split"] / "image_ids.txt"
        if not ids.is_file():
            missing.append(f"{name}: fold files in {ids.parent}/ (image_ids.txt, class_labels.txt, image_sizes.txt"
                           + (", localization.txt)" if ds["split"] != "train" else ")"))
    if missing:
        raise DataError(f"{cfg.filename}: dataset files are missing (docs/data.md says what goes where "
                        "and where to get it):", sorted(set(missing)))


def dataset_configs(cfg) -> dict[str, dict]:
    """The fold datasets a config reads, by dataloader (train/val/test)."""
    out = {}
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        ds = (cfg.get(key) or {}).get("dataset")
        if ds and {"data_root", "folds_root", "split"} <= set(ds):
            out[key.removesuffix("_dataloader")] = ds
    return out


# -- 4. threads ---------------------------------------------------------------------------------
def set_threads(threads: int | None = None) -> int:
    """Torch's intra-op threads: ``threads``, else ``OMP_NUM_THREADS``, else every core this process
    may use. A fixed rule, so that the same command gives the same numbers whatever the load:
    the thread count changes float summation order, hence results."""
    import torch

    if threads is None:
        env = os.environ.get("OMP_NUM_THREADS", "")
        threads = int(env) if env.isdigit() and int(env) > 0 else available_cores()
    if threads < 1:
        raise ValueError(f"--threads {threads}: must be >= 1")
    torch.set_num_threads(threads)
    return threads


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), else the machine's."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


#: The distributions whose versions decide a run's numbers, by the name a report shows.
LIBRARIES = {"torch": "torch", "torchvision": "torchvision", "timm": "timm", "mmengine": "mmengine",
             "numpy": "numpy", "opencv": "opencv-python", "scikit-image": "scikit-image",
             "open_clip": "open_clip_torch", "pillow": "pillow", "matplotlib": "matplotlib", "av": "av"}


def environment() -> dict:
    """What a run's numbers depend on besides its config: torch threads, device, Python, and the
    versions of wsvol, its libraries and the plugins loaded (recorded in the work dir and report)."""
    import platform
    from importlib import metadata

    import torch

    from wsvol import __version__
    from wsvol.plugin_manager import plugin_records

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    libraries = {"wsvol": __version__, "python": platform.python_version()}
    libraries.update({name: version(dist) for name, dist in LIBRARIES.items()})
    if libraries["opencv"] is None:  # another OpenCV distribution (headless, contrib): the module's own
        import cv2

        libraries["opencv"] = cv2.__version__
    cuda = torch.cuda.is_available()
    return {
        "threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "cuda": torch.version.cuda if cuda else None,
        "platform": platform.platform(),
        "libraries": libraries,
        "plugins": {r.name: f"{r.distribution} {r.version}" for r in plugin_records() if r.name != "wsvol"},
    }


def describe_environment(env: dict) -> str:
    """One line: ``threads 2, cpu; wsvol 0.1.0, python 3.11.7, torch 2.14.1, ...; plugins: ...``."""
    libs = ", ".join(f"{k} {v}" for k, v in env["libraries"].items() if v)
    plugins = ", ".join(f"{k} ({v})" for k, v in env.get("plugins", {}).items())
    return f"threads {env['threads']}, {env['device']}; {libs}" + (f"; plugins: {plugins}" if plugins else "")


# -- 5. work dir --------------------------------------------------------------------------------
def new_work_dir(config_path: str | Path, root: str | Path = "work_dirs") -> Path:
    """``work_dirs/<config stem>/<timestamp>-<short id>/``; unique even within one second."""
    stem = Path(config_path).stem
    return Path(root) / stem / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def latest_run_dir(config_path: str | Path, root: str | Path = "work_dirs") -> Path | None:
    """The most recent run dir of this config that holds a checkpoint."""
    from wsvol.engine.checkpoint import latest_checkpoint

    runs = sorted((Path(root) / Path(config_path).stem).glob("*-*"), reverse=True)
    return next((r for r in runs if latest_checkpoint(r) is not None), None)


def prepare_work_dir(cfg, config_path: str | Path, work_dir: str | Path | None, resume: str | None) -> Path:
    """Decide the work dir and resume point from the CLI flags; write the merged config there.

    ``resume``: None (fresh run), ``"auto"`` (latest checkpoint of the latest run of this
    config, or of ``work_dir`` when given), or a checkpoint file / run dir path.
    """
    from mmengine.dist import get_rank

    from wsvol.engine.checkpoint import latest_checkpoint, mark_work_dir
    from wsvol.engine.runner import same_on_all_ranks

    ckpt: Path | None = None
    if resume == "auto":
        run = Path(work_dir) if work_dir else latest_run_dir(config_path)
        ckpt = latest_checkpoint(run) if run else None
        work = run if run else Path(work_dir or new_work_dir(config_path))
    elif resume:
        target = Path(resume)
        if target.is_dir():
            ckpt = latest_checkpoint(target)
            if ckpt is None:
                raise FileNotFoundError(f"--resume {resume}: no epoch_*.pth / iter_*.pth checkpoint in that folder")
        elif target.is_file():
            ckpt = target
        else:
            raise FileNotFoundError(f"--resume {resume}: no such checkpoint file or run folder")
        work = Path(work_dir) if work_dir else ckpt.parent
    else:
        work = Path(work_dir) if work_dir else new_work_dir(config_path)
    work, ckpt = same_on_all_ranks((work, ckpt))  # rank 0 decides (timestamps and ids differ)
    cfg.work_dir = str(work)
    cfg.resume = ckpt is not None
    if ckpt is not None:
        cfg.load_from = str(ckpt)
    if get_rank() == 0:
        work.mkdir(parents=True, exist_ok=True)
        mark_work_dir(work, {"config": str(config_path), "created": time.strftime("%Y-%m-%d %H:%M:%S"),
                             "environment": environment()})
        save_merged_config(cfg, work / "config.yaml")
    return work


def save_merged_config(cfg, path: Path) -> None:
    """The merged config as YAML (what ``wsvol config show`` prints)."""
    from wsvol.config.loader import dump_yaml
    from wsvol.utils.files import atomic_write_text

    atomic_write_text(path, dump_yaml(cfg))
