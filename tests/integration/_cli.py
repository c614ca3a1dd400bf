"""Run `r1 COMMAND` in a subprocess (``python -m r1cli``), alone or under torchrun, offline, 1 thread."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def r1_argv(command: str) -> list[str]:
    return [sys.executable, "-m", "r1cli", command]


def r1_env(threads: int = 1) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS=str(threads),
               TOKENIZERS_PARALLELISM="false", TRANSFORMERS_VERBOSITY="error")
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_r1(command: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*r1_argv(command), *args], env=r1_env(), capture_output=True, text=True,
                          timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_prefix(nproc: int) -> list[str]:
    """``python -m torch.distributed.run --nproc-per-node N`` on a free loopback port."""
    return [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc),
            "--master-addr", "127.0.0.1", "--master-port", str(free_port())]


def torchrun_argv(nproc: int, command: str) -> list[str]:
    """torchrun with ``nproc`` processes, each running `r1 COMMAND`."""
    return [*torchrun_prefix(nproc), "-m", "r1cli", command]
