"""Fixtures for the integration tests: a real one-node SLURM (`slurm`).

The SLURM tests skip only when ``sbatch`` is not installed (CI installs it: .ci/run starts the cluster
with scripts/slurm-up.sh). When sbatch exists but no node is up, the fixture starts the cluster itself
with the same script (that needs root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _node_up() -> bool:
    res = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    states = res.stdout.split()
    return res.returncode == 0 and any(s.rstrip("*~#") in ("idle", "mixed", "allocated") for s in states)


class Slurm:
    """Runs r1 as a user on the login node would, and inspects jobs by id."""

    def __init__(self, workdirs: Path) -> None:
        self.workdirs = str(workdirs)  # every job of this session runs below here (cleanup cancels them)

    def env(self) -> dict:
        """What jobs inherit (sbatch exports the submitting environment): offline, one thread each."""
        env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS="1",
                   TOKENIZERS_PARALLELISM="false", TRANSFORMERS_VERBOSITY="error")
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        env.pop("SLURM_JOB_ID", None)
        return env

    def r1(self, *args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
        """``r1 ARGS`` (as ``python -m r1cli``) in ``cwd``; on a timeout this session's jobs are cancelled."""
        try:
            return subprocess.run([sys.executable, "-m", "r1cli", *args], cwd=cwd, env=self.env(),
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            self.cancel_all()
            raise

    def state(self, job_id: str) -> str:
        res = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True)
        fields = dict(f.split("=", 1) for f in res.stdout.split() if "=" in f)
        return fields.get("JobState", "UNKNOWN")

    def wait_state(self, job_id: str, states: tuple[str, ...], timeout: float = 120) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            s = self.state(job_id)
            if s in states:
                return s
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} still {self.state(job_id)} after {timeout} s, wanted {states}")

    def cancel_all(self) -> None:
        """scancel every queued job of this session (its working directory is ours), by id."""
        res = subprocess.run(["squeue", "-h", "-o", "%i %Z"], capture_output=True, text=True)
        for line in res.stdout.splitlines():
            job_id, _, workdir = line.partition(" ")
            if workdir.startswith(self.workdirs):
                subprocess.run(["scancel", job_id.split("_")[0]], capture_output=True)


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    if shutil.which("sbatch") is None:
        pytest.skip("sbatch is not installed (no SLURM client); CI installs it via scripts/slurm-up.sh")
    if not _node_up():
        res = subprocess.run(["bash", str(ROOT / "scripts" / "slurm-up.sh")], capture_output=True, text=True,
                             timeout=180)
        assert res.returncode == 0, f"scripts/slurm-up.sh failed (needs root):\n{res.stdout}\n{res.stderr}"
    assert _node_up(), "the SLURM node is not up after scripts/slurm-up.sh"
    cluster = Slurm(tmp_path_factory.getbasetemp())
    yield cluster
    cluster.cancel_all()


@pytest.fixture(scope="session")
def tiny_world(slurm, tmp_path_factory):
    """README's tiny world, made with README's commands: runs/tiny-model and runs/data (64 arith problems)."""
    root = tmp_path_factory.mktemp("slurm_world")
    for args in (("init-model", "-o", "runs/tiny-model"),
                 ("data", "make", "arith", "--n", "64", "--held-out", "0", "-o", "runs/data")):
        res = slurm.r1(*args, cwd=root)
        assert res.returncode == 0, res.stderr[-2000:]
    return root
