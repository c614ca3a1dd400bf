"""Two CPU processes (torchrun, gloo) train exactly like one process with the same global batch."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.integration._cli import r1_env, run_r1, torchrun_argv

pytestmark = pytest.mark.slow


def test_two_processes_match_one(tmp_path):
    import torch

    from r1cli.models.tiny import init_tiny
    from r1cli.tasks import write_task_data
    from r1cli.train.checkpoint import read_weights

    model = init_tiny(tmp_path / "model", hidden_size=32, num_layers=2, num_heads=2, num_kv_heads=1,
                      intermediate_size=64, max_position_embeddings=256)
    data = write_task_data("arith", 40, 2, tmp_path / "data")["sft"]
    common = ["--model", str(model), "--data", str(data), "--max-steps", "6", "--batch-size", "2",
              "--lr", "3e-3", "--device", "cpu", "--set", "train.cpu_threads=1"]
    one = run_r1("sft", *common, "--grad-accum", "2", "--output-dir", str(tmp_path / "one"))
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([*torchrun_argv(2, "sft"), *common, "--grad-accum", "1",
                          "--output-dir", str(tmp_path / "two")], env=r1_env(), capture_output=True,
                         text=True, timeout=400)
    assert two.returncode == 0, two.stderr[-3000:]
    assert "on 2 process(es)" in two.stderr

    def losses(d):
        return [json.loads(x)["loss"] for x in (d / "metrics.jsonl").read_text().splitlines()]

    # global batch 4 both ways: 1 process x 2 micro-batches of 2, or 2 processes x 1 micro-batch of 2
    assert losses(tmp_path / "two") == pytest.approx(losses(tmp_path / "one"), abs=1e-6)
    a, b = read_weights(tmp_path / "one" / "final"), read_weights(tmp_path / "two" / "final")
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=1e-6, msg=k)


def test_checkpoint_of_one_process_resumes_under_two(tmp_path):
    """Resumable with another process count: 3 steps on 1 process, then steps 4-6 under torchrun with
    2 processes (same global batch) give the weights of 6 uninterrupted steps on 1 process."""
    import torch

    from r1cli.models.tiny import init_tiny
    from r1cli.tasks import write_task_data
    from r1cli.train.checkpoint import read_weights

    model = init_tiny(tmp_path / "model", hidden_size=32, num_layers=2, num_heads=2, num_kv_heads=1,
                      intermediate_size=64, max_position_embeddings=256)
    data = write_task_data("arith", 40, 2, tmp_path / "data")["sft"]
    # constant lr: a 3-step run then has the schedule of the first 3 steps of a 6-step run
    common = ["--model", str(model), "--data", str(data), "--batch-size", "2", "--lr", "3e-3", "--device", "cpu",
              "--set", "train.cpu_threads=1", "--set", "train.lr_scheduler=constant", "--set", "train.warmup_ratio=0"]
    full = run_r1("sft", *common, "--max-steps", "6", "--grad-accum", "2", "--output-dir", str(tmp_path / "full"))
    assert full.returncode == 0, full.stderr[-2000:]
    # stop after step 3 with its checkpoint, as a killed job would have left it
    part = run_r1("sft", *common, "--max-steps", "3", "--grad-accum", "2", "--set", "train.save_steps=3",
                  "--output-dir", str(tmp_path / "run"))
    assert part.returncode == 0, part.stderr[-2000:]
    assert (tmp_path / "run" / "checkpoint-3").is_dir()
    two = subprocess.run([*torchrun_argv(2, "sft"), *common, "--max-steps", "6", "--grad-accum", "1", "--resume", "latest",
                          "--output-dir", str(tmp_path / "run")], env=r1_env(), capture_output=True, text=True,
                         timeout=400)
    assert two.returncode == 0, two.stderr[-3000:]
    assert "resuming at step 3" in two.stderr and "on 2 process(es)" in two.stderr
    a, b = read_weights(tmp_path / "full" / "final"), read_weights(tmp_path / "run" / "final")
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-5, msg=k)
