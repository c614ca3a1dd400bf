"""Run `r1 sft` in a subprocess: ``python -m r1cli sft`` once the app registers our command, else
a stand-in script that mounts only r1cli.commands.sft.sft (same flags, same engine)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

STANDIN = """
import sys
import typer
from r1cli.commands.sft import sft
from r1cli.errors import R1Error
app = typer.Typer()
app.command("sft")(sft)
@app.callback()
def _root():
    pass
try:
    app()
except R1Error as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
"""


def sft_argv(tmp_dir: Path) -> list[str]:
    """The argv prefix that runs `r1 sft`."""
    from r1cli.commands.sft import sft

    try:
        from r1cli.app import app

        if any(c.name == "sft" and c.callback is sft for c in app.registered_commands):
            return [sys.executable, "-m", "r1cli", "sft"]
    except ImportError:  # pragma: no cover
        pass
    script = Path(tmp_dir) / "r1_sft_standin.py"
    script.write_text(STANDIN)
    return [sys.executable, str(script), "sft"]


def sft_env(threads: int = 1) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS=str(threads),
               TOKENIZERS_PARALLELISM="false", TRANSFORMERS_VERBOSITY="error")
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_sft_cli(tmp_dir: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*sft_argv(tmp_dir), *args], env=sft_env(), capture_output=True, text=True,
                          timeout=timeout)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_argv(tmp_dir: Path, nproc: int) -> list[str]:
    """``python -m torch.distributed.run --nproc-per-node N`` + the `r1 sft` entry (module or script)."""
    base = sft_argv(tmp_dir)
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc),
                "--master-addr", "127.0.0.1", "--master-port", str(free_port())]
    if base[1] == "-m":
        return [*launcher, "-m", "r1cli", "sft"]
    return [*launcher, base[1], "sft"]
