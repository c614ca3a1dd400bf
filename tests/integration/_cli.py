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


def dpo_world(root: Path, num_layers: int = 1) -> tuple[Path, Path]:
    """A very small random model and 16 arith pairs (chosen right, rejected one off, some padded)."""
    import json

    from r1cli.models.tiny import init_tiny

    model = init_tiny(root / "model", hidden_size=32, num_layers=num_layers, num_heads=2, num_kv_heads=1,
                      intermediate_size=64, max_position_embeddings=256)
    pairs = [{"id": f"p{i}", "problem": f"What is {i} + 1?", "chosen": f"<think>\n{i}+1={i + 1}\n</think>\n\\boxed{{{i + 1}}}",
              "rejected": f"<think>\n{i}+1={i + 2}\n</think>\n\\boxed{{{i + 2}}}" + " so" * (i % 3)} for i in range(16)]
    data = root / "pairs.jsonl"
    data.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    return model, data
