"""`r1 slurm sft` on the real one-node SLURM: 2-process training to completion (torchrun, gloo), and a
scancel'd job that resumes from its last checkpoint when the same script is resubmitted (accelerate).

The commands are README's "Running on SLURM" training examples, shortened with flags (few steps).
"""

from __future__ import annotations

import json
import time

import pytest

pytestmark = pytest.mark.slow


def _metrics_steps(out) -> list[int]:
    return [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_two_process_sft_runs_to_completion_and_its_checkpoint_loads(slurm, tiny_world):
    from transformers import AutoModelForCausalLM

    t0 = time.monotonic()
    res = slurm.r1("slurm", "sft", "--nproc-per-node", "2", "--cpus-per-task", "2", "--script", "sft.sbatch",
                   "--submit", "--wait", "--", "--preset", "tiny", "-o", "runs/sft", "--max-steps", "4",
                   "--save-steps", "2", "--batch-size", "8", "--set", "train.logging_steps=1", cwd=tiny_world,
                   timeout=300)
    elapsed = time.monotonic() - t0
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    (job_id,) = res.stdout.split()
    assert slurm.state(job_id) == "COMPLETED"
    log = " ".join((tiny_world / "slurm-logs" / f"r1-sft-{job_id}.out").read_text().split())  # unwrap
    assert "1 node(s) x 2 process(es)" in log and "on 2 process(es)" in log, log[-3000:]
    out = tiny_world / "runs" / "sft"
    # rank 0 alone logs: steps 1..4 exactly once each (two writers would duplicate lines)
    assert _metrics_steps(out) == [1, 2, 3, 4]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 4
    assert (out / "checkpoint-4" / "trainer_state.pt").is_file()  # save_total_limit 1 keeps the newest
    for path in (out / "checkpoint-4", out / "final"):
        model = AutoModelForCausalLM.from_pretrained(path)
        assert model.config.model_type == "qwen2" and sum(p.numel() for p in model.parameters()) > 0
    print(f"\nslurm sft, 2 processes x 4 steps: {elapsed:.1f} s")


def test_scancel_then_resubmit_resumes_from_the_last_checkpoint(slurm, tiny_world):
    out = tiny_world / "runs" / "sft-resume"
    t0 = time.monotonic()
    # `--resume latest` starts fresh when there is no checkpoint yet, so one script serves both submissions.
    res = slurm.r1("slurm", "sft", "--launcher", "accelerate", "--nproc-per-node", "2", "--cpus-per-task", "2",
                   "--script", "resume.sbatch", "--submit", "--",
                   "--preset", "tiny", "-o", "runs/sft-resume", "--resume", "latest", "--max-steps", "12",
                   "--save-steps", "2", "--batch-size", "32", "--set", "train.logging_steps=1", cwd=tiny_world)
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    (first,) = res.stdout.split()
    deadline = time.monotonic() + 240
    while not list(out.glob("checkpoint-*")) and time.monotonic() < deadline:
        assert slurm.state(first) in ("PENDING", "CONFIGURING", "RUNNING"), slurm.state(first)
        time.sleep(0.1)
    subprocess_run(["scancel", first])
    assert slurm.wait_state(first, ("CANCELLED",), timeout=60) == "CANCELLED"
    time.sleep(1.0)  # the processes are gone: nothing writes any more
    ckpts = sorted(int(p.name.split("-")[1]) for p in out.glob("checkpoint-*"))
    assert ckpts and not (out / "final").exists(), "the job finished before it could be cancelled"
    at = ckpts[-1]
    assert 2 <= at < 12 and at % 2 == 0

    res = subprocess_run(["sbatch", "--parsable", str(tiny_world / "resume.sbatch")], cwd=tiny_world, env=slurm.env())
    second = res.stdout.strip().split(";")[0]
    assert slurm.wait_state(second, ("COMPLETED", "FAILED", "CANCELLED"), timeout=240) == "COMPLETED"
    elapsed = time.monotonic() - t0
    log = " ".join((tiny_world / "slurm-logs" / f"r1-sft-{second}.out").read_text().split())
    assert f"resuming at step {at} from" in log and "on 2 process(es)" in log, log[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["start_step"] == at and summary["steps"] == 12  # the counter continued, not restarted
    assert json.loads((out / "checkpoint-12" / "trainer_state.json").read_text())["step"] == 12
    # metrics: steps 1..12 exactly once (the cancelled run's lines after the checkpoint were dropped)
    assert _metrics_steps(out) == list(range(1, 13))
    print(f"\nslurm scancel at checkpoint-{at} + resubmit, 12 steps: {elapsed:.1f} s")


def subprocess_run(cmd, **kw):
    import subprocess

    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)
    assert res.returncode == 0, f"{cmd}: {res.stderr}"
    return res


def test_two_process_ppo_runs_to_completion(slurm, tiny_world):
    """`r1 slurm grpo` with PPO's critic: 2 processes under torchrun, the critic saved once by rank 0."""
    res = slurm.r1("slurm", "grpo", "--nproc-per-node", "2", "--cpus-per-task", "2", "--script", "ppo.sbatch",
                   "--submit", "--wait", "--", "--model", "runs/tiny-model", "--data", "runs/data/problems.jsonl",
                   "--estimator", "ppo", "-G", "2", "--prompts-per-step", "4", "--max-steps", "2",
                   "--save-steps", "1", "--max-new-tokens", "8", "-o", "runs/ppo", "--set", "train.plots=false",
                   cwd=tiny_world, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    (job_id,) = res.stdout.split()
    assert slurm.state(job_id) == "COMPLETED"
    out = tiny_world / "runs" / "ppo"
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and all("value_loss" in r for r in rows)
    assert (out / "critic" / "value_head.safetensors").is_file() and (out / "critic-step2.pt").is_file()
