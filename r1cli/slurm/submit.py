"""Submitting generated scripts: ``sbatch`` with dependencies, and waiting for a job to end.

``sbatch --wait`` polls with a growing interval (a 3 s job returned after 10 s here), so
:func:`wait_for` polls ``scontrol show job`` itself; slurmctld keeps a finished job for ``MinJobAge``
seconds (300 by default), which is plenty for a poll every second.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from r1cli.errors import R1Error
from r1cli.slurm.scripts import PlannedScript


def sbatch(script: Path, *, dependency: str | None = None, wait: bool = False) -> str:
    """Submit ``script``; return the job id. ``sbatch`` errors become one-line R1Errors.

    With ``wait`` sbatch returns when the job ends; a failed job is an R1Error with its exit code.
    """
    cmd = ["sbatch", "--parsable"]
    if dependency:
        cmd.append(f"--dependency={dependency}")
    if wait:
        cmd.append("--wait")
    cmd.append(str(script))
    try:
        res = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError:
        raise R1Error("sbatch not found: run r1 slurm --submit on a SLURM login node (or write the script "
                      "without --submit and copy it there)") from None
    job_id = res.stdout.strip().split(";")[0].strip()
    if res.returncode != 0 and not job_id:
        detail = res.stderr.strip().splitlines()[-1] if res.stderr.strip() else f"exit code {res.returncode}"
        raise R1Error(f"sbatch {script} failed: {detail}")
    if wait and res.returncode != 0:
        raise R1Error(f"job {job_id} ({script}) failed with exit code {res.returncode}; see its log")
    return job_id


TERMINAL = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
            "BOOT_FAIL", "DEADLINE")


def job_states(job_id: str) -> list[tuple[str, str]]:
    """``[(state, exit_code), ...]`` of a job (one per array task) from ``scontrol show job -o``."""
    res = subprocess.run(["scontrol", "show", "job", "-o", str(job_id)], capture_output=True, text=True)
    if res.returncode != 0:
        raise R1Error(f"job {job_id}: slurmctld no longer knows it ({res.stderr.strip()}); see its log")
    out = []
    for line in res.stdout.splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        out.append((fields.get("JobState", "UNKNOWN"), fields.get("ExitCode", "?")))
    return out


def wait_for(job_id: str, script: Path | str = "", *, poll_s: float = 1.0) -> None:
    """Block until ``job_id`` ends; an R1Error unless every task COMPLETED (polls ``scontrol``)."""
    while True:
        states = job_states(job_id)
        if states and all(state in TERMINAL for state, _ in states):
            bad = [(s, c) for s, c in states if s != "COMPLETED"]
            if bad:
                raise R1Error(f"job {job_id} ({script}) ended {bad[0][0]} (exit code {bad[0][1]}); see its log")
            return
        time.sleep(poll_s)


def submit_plan(plan: list[PlannedScript], *, wait: bool = False,
                on_submit: Callable[[PlannedScript, str], None] | None = None) -> list[str]:
    """Submit every script in order, each ``afterok`` its predecessor; ``wait`` waits for the last.

    ``on_submit(script, job_id)`` is called as soon as each job is queued (before any waiting).
    """
    ids: list[str] = []
    for p in plan:
        dep = f"afterok:{ids[p.after]}" if p.after is not None else None
        ids.append(sbatch(p.path, dependency=dep))
        if on_submit:
            on_submit(p, ids[-1])
    if wait:
        wait_for(ids[-1], plan[-1].path)
    return ids
