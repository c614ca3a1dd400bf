"""Two CPU processes (torchrun, gloo) give the same GRPO update as one process on the same rollouts,
and the full trainer runs under torchrun (groups never split, counts merged across ranks)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.integration._cli import r1_env, torchrun_argv, torchrun_prefix

pytestmark = pytest.mark.slow

WORKER = r'''
import sys
from types import SimpleNamespace
import torch
from transformers import Qwen2Config, Qwen2ForCausalLM
from r1cli.train.distributed import init_distributed
from r1cli.train.engine import TorchEngine
from r1cli.train.grpo_update import build_batch, run_updates

torch.set_num_threads(1)
ctx = init_distributed("cpu")
P = [[5, 6, 7], [5, 6, 7], [8, 9], [8, 9], [10, 11, 12], [10, 11, 12], [13], [13]]  # 4 groups x G 2
C = [[20, 21, 1], [22, 1], [23, 24, 25, 26], [27], [28, 29], [30, 31, 32], [33], [34, 35, 1]]
ADV = torch.tensor([1.0, -1.0, 0.7, -0.7, -0.3, 0.3, 1.0, -1.0])
groups = list(range(4))[ctx.rank::ctx.world_size]  # whole groups per rank
rows = [2 * g + j for g in groups for j in range(2)]
out = {}
for agg in ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"):
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(Qwen2Config(vocab_size=48, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                         num_key_value_heads=1, intermediate_size=64, max_position_embeddings=64))
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    engine = TorchEngine(model, opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0), ctx, bf16=False,
                         max_grad_norm=None)
    batch = build_batch([P[r] for r in rows], [C[r] for r in rows], pad_id=0)
    g = SimpleNamespace(iterations=1, mini_batches=1, micro_batch_size=2, micro_batch_tokens=None, clip_low=0.2, clip_high=0.2,
                        dual_clip=None, ratio_level="token", beta=0.0, kl="k3", kl_placement="loss", loss_agg=agg,
                        entropy_coef=0.0, importance_sampling_mode="truncate", importance_sampling_max=2.0,
                        importance_sampling_min=None, skip_zero_advantage=False)
    stats = run_updates(engine, batch, ADV[rows], torch.ones(len(rows), dtype=torch.bool), g=g, temperature=1.0,
                        norm_len=8.0, ctx=ctx, step=0, micro_steps=(lambda n: 2) if ctx.is_distributed else None)
    out[agg] = {"loss": stats["loss"], "weights": {k: v.clone() for k, v in model.state_dict().items()}}
if ctx.is_main:
    torch.save(out, sys.argv[1])
ctx.close()
'''


def test_two_processes_give_the_same_update(tmp_path):
    import torch

    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    one = subprocess.run([sys.executable, str(script), str(tmp_path / "one.pt")], env=r1_env(),
                         capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run([*torchrun_prefix(2), str(script), str(tmp_path / "two.pt")], env=r1_env(),
                         capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = torch.load(tmp_path / "one.pt"), torch.load(tmp_path / "two.pt")
    for agg in a:
        assert b[agg]["loss"] == pytest.approx(a[agg]["loss"], abs=1e-6), agg
        for k, v in a[agg]["weights"].items():
            torch.testing.assert_close(b[agg]["weights"][k], v, atol=1e-6, rtol=1e-5, msg=f"{agg}: {k}")


def test_trainer_under_torchrun(tmp_path):
    from r1cli.models.tiny import init_tiny
    from r1cli.tasks import write_task_data

    model = init_tiny(tmp_path / "model", hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1,
                      intermediate_size=64, max_position_embeddings=256)
    data = write_task_data("arith", 16, 0, tmp_path / "data")["problems"]
    cmd = [*torchrun_argv(2, "grpo"), "--model", str(model), "--data", str(data),
           "--reward", "repetition", "-G", "4", "--prompts-per-step", "4", "--max-steps", "2",
           "--max-new-tokens", "12", "--lr", "1e-3", "-o", str(tmp_path / "run"),
           "--set", "train.device=cpu", "--set", "grpo.micro_batch_size=3", "--set", "grpo.dynamic_sampling=true",
           "--set", "grpo.dynamic_sampling_max_rounds=2", "--set", "train.plots=false"]
    run = subprocess.run(cmd, env=r1_env(), capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    assert all(r["completions"] == 4 * r["groups_trained"] for r in rows)  # whole groups, both ranks merged
    assert (tmp_path / "run" / "final" / "model.safetensors").is_file()


def test_ppo_under_torchrun(tmp_path):
    """PPO's critic steps through its own DDP engine: both ranks' tokens in one value loss, one saved critic."""
    from r1cli.models.tiny import init_tiny
    from r1cli.tasks import write_task_data

    model = init_tiny(tmp_path / "model", hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1,
                      intermediate_size=64, max_position_embeddings=256)
    data = write_task_data("arith", 16, 0, tmp_path / "data")["problems"]
    cmd = [*torchrun_argv(2, "grpo"), "--model", str(model), "--data", str(data), "--estimator", "ppo",
           "--reward", "repetition", "-G", "2", "--prompts-per-step", "4", "--max-steps", "2", "--save-steps", "1",
           "--max-new-tokens", "12", "--lr", "1e-3", "-o", str(tmp_path / "run"), "--set", "train.device=cpu",
           "--set", "grpo.micro_batch_size=3", "--set", "ppo.critic_mini_batches=2", "--set", "train.plots=false"]
    run = subprocess.run(cmd, env=r1_env(), capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and all(r["value_loss"] >= 0 and "critic_grad_norm" in r for r in rows)
    assert all(r["completions"] == 8 for r in rows)  # both ranks' rollouts merged
    assert (tmp_path / "run" / "critic" / "value_head.safetensors").is_file()
    assert (tmp_path / "run" / "critic-step2.pt").is_file()
