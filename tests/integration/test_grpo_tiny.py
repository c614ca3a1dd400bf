"""`r1 grpo` end to end on the tiny world through the command line: real tokenizer, real chat template,
real accuracy reward (math-verify), hf rollouts sharing the policy, checkpoint + resume, plots."""

from __future__ import annotations

import json

import pytest

from tests.integration._cli import run_r1

pytestmark = pytest.mark.slow


def test_grpo_tiny_cli_runs_and_resumes(tmp_path):
    from r1cli.models.tiny import init_tiny
    from r1cli.tasks import write_task_data

    model = init_tiny(tmp_path / "model", hidden_size=32, num_layers=2, num_heads=2, num_kv_heads=1,
                      intermediate_size=64, max_position_embeddings=256)
    data = write_task_data("arith", 32, 1, tmp_path / "data", held_out=8)
    out = tmp_path / "run"
    args = ["--model", str(model), "--data", str(data["problems"]), "--eval-data", str(data["held_out"]),
            "--reward", "acc,format", "--reward-weights", "1,0.5", "-G", "4", "--prompts-per-step", "4",
            "--max-new-tokens", "16", "--lr", "1e-3", "-o", str(out), "--set", "train.device=cpu",
            "--set", "train.save_steps=2", "--set", "eval.every_steps=2"]
    first = run_r1("grpo", *args, "--max-steps", "2", timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    second = run_r1("grpo", *args, "--max-steps", "3", "--resume", "latest", timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resumed" in second.stderr
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2, 3]
    assert "eval_accuracy" in rows[0] and "eval_accuracy" in rows[-1]
    assert {"reward/accuracy", "reward/format"} <= set(rows[-1])
    for name in ("final/model.safetensors", "config.yaml", "reward.png", "accuracy.png", "length.png",
                 "reflection.png", "checkpoint-2/trainer_state.pt"):
        assert (out / name).is_file(), name


def test_grpo_cli_user_errors_are_one_line(tmp_path):
    bad = run_r1("grpo", "--model", str(tmp_path / "nope"), "--data", "x.jsonl", "--set", "grpo.clip_hgh=1")
    assert bad.returncode == 2
    assert "grpo.clip_high" in bad.stderr and "Traceback" not in bad.stderr
