"""`r1 grpo --estimator ppo` and `r1 dpo` killed with SIGKILL after a checkpoint, then rerun with
``--resume latest``: each ends with the weights (policy, and PPO's critic) of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from tests.integration._cli import r1_argv, r1_env, run_r1

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from r1cli.models.tiny import init_tiny
    from r1cli.tasks import write_task_data

    root = tmp_path_factory.mktemp("kill-world")
    model = init_tiny(root / "model", hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1,
                      intermediate_size=64, max_position_embeddings=256)
    data = write_task_data("arith", 32, 0, root / "data")
    pairs = root / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"id": f"p{i}", "problem": f"What is {i} + {i}?",
                                         "chosen": f"<think>\n{i}+{i}={2 * i}\n</think>\n\\boxed{{{2 * i}}}",
                                         "rejected": f"\\boxed{{{2 * i + 1}}}"}) + "\n" for i in range(40)))
    return {"model": str(model), "problems": str(data["problems"]), "pairs": str(pairs)}


def _killed_then_resumed(command: str, args: list[str], out, steps: int) -> None:
    """Run until a checkpoint of step 2 or later exists, SIGKILL, rerun with --resume latest to the end."""
    child = subprocess.Popen([*r1_argv(command), *args, "-o", str(out)], env=r1_env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    def saved() -> bool:  # older checkpoints are pruned (save_total_limit), so look for any step >= 2
        return any(p.name.split("-")[-1].isdigit() and int(p.name.split("-")[-1]) >= 2
                   for p in out.glob("checkpoint-*") if p.is_dir())

    while not saved() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert child.poll() is None, "finished or died before the kill: " + child.stderr.read().decode()[-2000:]
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert not (out / "final").exists()
    again = run_r1(command, *args, "-o", str(out), "--resume", "latest", timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == steps


def _same_weights(a, b) -> None:
    import torch

    from r1cli.train.checkpoint import read_weights

    wa, wb = read_weights(a), read_weights(b)
    assert wa and set(wa) == set(wb)
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def test_ppo_sigkill_resume_is_exact(world, tmp_path):
    args = ["--model", world["model"], "--data", world["problems"], "--estimator", "ppo", "-G", "4",
            "--prompts-per-step", "4", "--max-new-tokens", "12", "--lr", "1e-3", "--max-steps", "6",
            "--save-steps", "1", "--set", "train.device=cpu", "--set", "train.cpu_threads=1",
            "--set", "train.plots=false", "--set", "ppo.critic_learning_rate=1e-3", "--set", "train.save_total_limit=2"]
    straight = run_r1("grpo", *args, "-o", str(tmp_path / "straight"), timeout=600)
    assert straight.returncode == 0, straight.stderr[-3000:]
    _killed_then_resumed("grpo", args, tmp_path / "killed", 6)
    _same_weights(tmp_path / "straight" / "final", tmp_path / "killed" / "final")
    _same_weights(tmp_path / "straight" / "critic", tmp_path / "killed" / "critic")
    assert len(list((tmp_path / "killed").glob("critic-step*.pt"))) == 2  # pruned with the checkpoints


def test_dpo_sigkill_resume_is_exact(world, tmp_path):
    args = ["--model", world["model"], "--data", world["pairs"], "--max-steps", "60", "--batch-size", "2",
            "--lr", "1e-3", "--save-steps", "1", "--set", "train.device=cpu", "--set", "train.cpu_threads=1",
            "--set", "train.lr_scheduler=constant"]
    straight = run_r1("dpo", *args, "-o", str(tmp_path / "straight"), timeout=600)
    assert straight.returncode == 0, straight.stderr[-3000:]
    _killed_then_resumed("dpo", args, tmp_path / "killed", 60)  # 60 short steps: the kill lands mid-run
    _same_weights(tmp_path / "straight" / "final", tmp_path / "killed" / "final")
