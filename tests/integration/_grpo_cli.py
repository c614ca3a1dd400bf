"""Run `r1 grpo` in a subprocess: ``python -m r1cli grpo`` once the app registers our command, else a
stand-in script that mounts only r1cli.commands.grpo.grpo (same flags, same engine)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

STANDIN = """
import sys
import typer
from r1cli.commands.grpo import grpo
from r1cli.errors import R1Error
app = typer.Typer()
app.command("grpo")(grpo)
@app.callback()
def _root():
    pass
try:
    app()
except R1Error as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
"""


def grpo_argv(tmp_dir: Path) -> list[str]:
    """The argv prefix that runs `r1 grpo`."""
    from r1cli.commands.grpo import grpo

    try:
        from r1cli.app import app

        if any(c.name == "grpo" and c.callback is grpo for c in app.registered_commands):
            return [sys.executable, "-m", "r1cli", "grpo"]
    except ImportError:  # pragma: no cover
        pass
    script = Path(tmp_dir) / "r1_grpo_standin.py"
    script.write_text(STANDIN)
    return [sys.executable, str(script), "grpo"]


def grpo_env(threads: int = 1) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS=str(threads),
               TOKENIZERS_PARALLELISM="false", TRANSFORMERS_VERBOSITY="error")
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_grpo_cli(tmp_dir: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*grpo_argv(tmp_dir), *args], env=grpo_env(), capture_output=True, text=True,
                          timeout=timeout)


def torchrun_prefix(nproc: int) -> list[str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc),
            "--master-addr", "127.0.0.1", "--master-port", str(port)]
