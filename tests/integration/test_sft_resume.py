"""`r1 sft` killed with SIGKILL and resumed ends with the same weights as an uninterrupted run."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from tests.integration._cli import r1_argv, r1_env, run_r1

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    from r1cli.models.tiny import init_tiny
    from r1cli.tasks import write_task_data

    root = tmp_path_factory.mktemp("sft_resume")
    model = init_tiny(root / "model", hidden_size=32, num_layers=2, num_heads=2, num_kv_heads=1,
                      intermediate_size=64, max_position_embeddings=256)
    data = write_task_data("arith", 96, 1, root / "data")
    return {"root": root, "model": str(model), "data": str(data["sft"])}


def _args(assets, out, *extra):
    return ["--model", assets["model"], "--data", assets["data"], "--output-dir", str(out),
            "--max-steps", "16", "--batch-size", "4", "--grad-accum", "2", "--lr", "2e-3", "--save-steps", "2",
            "--device", "cpu", "--set", "train.lr_scheduler=cosine", "--set", "train.warmup_ratio=0.1",
            "--set", "train.min_lr_ratio=0.1", "--set", "train.cpu_threads=1", *extra]


def test_sigkill_then_resume_matches_uninterrupted(assets, tmp_path):
    import torch

    from r1cli.train.checkpoint import read_weights

    ref = tmp_path / "ref"
    done = run_r1("sft", *_args(assets, ref))
    assert done.returncode == 0, done.stderr[-2000:]

    out = tmp_path / "killed"
    proc = subprocess.Popen([*r1_argv("sft"), *_args(assets, out)], env=r1_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not (out / "checkpoint-6").is_dir() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (out / "final").exists()

    resumed = run_r1("sft", *_args(assets, out, "--resume", "latest"))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming at step" in resumed.stderr
    a, b = read_weights(ref / "final"), read_weights(out / "final")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k  # bitwise: same data order, optimizer, schedule and RNG
    steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 17))  # records after the checkpoint were rewritten, not duplicated
    ref_loss = [json.loads(x)["loss"] for x in (ref / "metrics.jsonl").read_text().splitlines()]
    got_loss = [json.loads(x)["loss"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert got_loss == ref_loss
