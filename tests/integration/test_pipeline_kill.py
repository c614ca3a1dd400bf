"""`r1 pipeline --preset tiny-r1` (shortened), killed with SIGKILL in R1's stage 2 (reasoning RL) and stage 4
(final RL) and rerun each time, ends with the weights and held-out pass@1 of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.integration._cli import r1_env

pytestmark = pytest.mark.slow

SHORT = [  # every stage of tiny-r1, smaller; cpu_threads 1 (the preset's) keeps runs bit-reproducible
    "stages.data.n=400", "stages.cold_start.train.max_steps=150", "stages.cold_start.train.save_steps=50",
    "stages.reasoning_rl.train.max_steps=8", "stages.reasoning_rl.train.save_steps=2",
    "stages.reasoning_rl.grpo.prompts_per_step=8", "stages.rejection.data.limit=200",
    "stages.sft_from_base.train.max_steps=60", "stages.sft_from_base.train.save_steps=30",
    "stages.final_rl.train.max_steps=6", "stages.final_rl.train.save_steps=2", "stages.final_rl.grpo.prompts_per_step=8",
    "report.limit=40", "report.n=2",
]


def argv(out) -> list[str]:
    return [sys.executable, "-m", "r1cli", "pipeline", "--preset", "tiny-r1", "-o", str(out),
            *[x for s in SHORT for x in ("--set", s)]]


def run(out) -> subprocess.CompletedProcess:
    return subprocess.run(argv(out), env=r1_env(), capture_output=True, text=True, timeout=900)


def run_and_kill_when(out, ready) -> None:
    """Start the pipeline and SIGKILL it as soon as ``ready()`` holds."""
    proc = subprocess.Popen(argv(out), env=r1_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    try:
        while not ready():
            assert proc.poll() is None, "the pipeline ended before the kill point"
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def checkpoints(stage_dir) -> list:
    return sorted(stage_dir.glob("checkpoint-*")) if stage_dir.is_dir() else []


def test_sigkill_in_stage_2_and_stage_4_then_rerun_ends_like_an_uninterrupted_run(tmp_path):
    from r1cli.train.checkpoint import read_weights

    whole = tmp_path / "whole"
    res = run(whole)
    assert res.returncode == 0, res.stderr[-3000:]

    cut = tmp_path / "cut"
    run_and_kill_when(cut, lambda: len(checkpoints(cut / "reasoning_rl")) >= 2)  # mid stage 2
    assert not (cut / ".stages" / "reasoning_rl.json").exists()
    run_and_kill_when(cut, lambda: len(checkpoints(cut / "final_rl")) >= 1)  # mid stage 4
    assert not (cut / ".stages" / "final_rl.json").exists()
    res = run(cut)
    assert res.returncode == 0, res.stderr[-3000:]
    ran = json.loads(res.stdout.strip().splitlines()[-1])["ran"]
    assert ran == ["final_rl"]  # stages 1-3 were done; stage 4 resumed from its checkpoint
    assert "resumed from" in res.stderr

    a, b = read_weights(whole / "final_rl" / "final"), read_weights(cut / "final_rl" / "final")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)  # bit-identical
    pass1 = [json.loads((d / ".stages" / "final_rl.json").read_text())["eval"]["metrics"]["pass@1"] for d in (whole, cut)]
    assert pass1[0] == pass1[1]
    for name in ("cold_start", "reasoning_rl", "rejection", "sft_from_base"):
        assert json.loads((whole / ".stages" / f"{name}.json").read_text())["key"] == \
            json.loads((cut / ".stages" / f"{name}.json").read_text())["key"]
    kept = [[{k: v for k, v in json.loads(line).items() if k != "teacher"}  # the teacher's path differs
             for line in (d / "rejection" / "sft.jsonl").read_text().splitlines()] for d in (whole, cut)]
    assert kept[0] == kept[1] and kept[0]  # the rejection stage kept the same traces
