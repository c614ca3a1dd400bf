"""PPO under DeepSpeed ZeRO-2 on CPU (gloo, 2 processes): the policy and the critic step through DeepSpeed,
the critic is checkpointed by DeepSpeed beside the policy, and a resumed run ends with the weights of an
uninterrupted one. Needs deepspeed (not in `.[dev]`: skipped without it)."""

from __future__ import annotations

import importlib.util
import json
import subprocess

import pytest

from tests.integration._cli import r1_env, torchrun_argv

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("deepspeed") is None, reason="deepspeed is not installed"),
]


def test_ppo_zero2_resumes_exactly(tmp_path):
    import torch

    from r1cli.models.tiny import init_tiny
    from r1cli.tasks import write_task_data
    from r1cli.train.checkpoint import read_weights

    model = init_tiny(tmp_path / "model", hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1,
                      intermediate_size=64, max_position_embeddings=256)
    data = write_task_data("arith", 16, 0, tmp_path / "data")["problems"]

    def run(out, steps, *extra):
        cmd = [*torchrun_argv(2, "grpo"), "--model", str(model), "--data", str(data), "--estimator", "ppo",
               "--reward", "repetition,format", "-G", "2", "--prompts-per-step", "4", "--max-steps", str(steps),
               "--save-steps", "1", "--max-new-tokens", "12", "--lr", "1e-3", "-o", str(out),
               "--set", "train.device=cpu", "--set", "train.deepspeed=zero2", "--set", "train.cpu_threads=1",
               "--set", "grpo.micro_batch_size=2", "--set", "ppo.critic_mini_batches=2",
               "--set", "ppo.critic_learning_rate=1e-3", "--set", "train.plots=false", *extra]
        done = subprocess.run(cmd, env=r1_env(), capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]

    run(tmp_path / "straight", 3)
    run(tmp_path / "resumed", 2)
    run(tmp_path / "resumed", 3, "--resume", "latest")
    for sub in ("final", "critic"):
        a, b = read_weights(tmp_path / "straight" / sub), read_weights(tmp_path / "resumed" / sub)
        assert a and set(a) == set(b)
        for k in a:
            assert torch.equal(a[k], b[k]), f"{sub}: {k}"
    rows = [json.loads(x) for x in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3] and all("value_loss" in r for r in rows)
    assert (tmp_path / "resumed" / "critic-step3").is_dir()
