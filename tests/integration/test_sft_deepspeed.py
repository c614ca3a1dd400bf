"""DeepSpeed ZeRO on CPU (gloo): same losses as the torch engine, and an exact resume. Needs deepspeed."""

from __future__ import annotations

import importlib.util
import json

import pytest

from tests.integration._cli import free_port, run_r1

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("deepspeed") is None, reason="deepspeed is not installed"),
]


def test_zero3_matches_torch_and_resumes_exactly(tmp_path, monkeypatch):
    import torch

    from r1cli.models.tiny import init_tiny
    from r1cli.tasks import write_task_data
    from r1cli.train.checkpoint import read_weights

    model = init_tiny(tmp_path / "model", hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1,
                      intermediate_size=64, max_position_embeddings=256)
    data = write_task_data("arith", 32, 3, tmp_path / "data")["sft"]
    for k, v in {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                 "MASTER_PORT": str(free_port())}.items():
        monkeypatch.setenv(k, v)
    common = ["--model", str(model), "--data", str(data), "--batch-size", "4", "--grad-accum", "2", "--lr", "3e-3",
              "--device", "cpu", "--save-steps", "2", "--set", "train.cpu_threads=1",
              "--set", "train.lr_scheduler=constant"]

    def run(out, *extra):
        res = run_r1("sft", *common, "--output-dir", str(tmp_path / out), *extra, timeout=900)
        assert res.returncode == 0, res.stderr[-3000:]
        return [json.loads(x)["loss"] for x in (tmp_path / out / "metrics.jsonl").read_text().splitlines()]

    plain = run("plain", "--max-steps", "4")
    zero3 = run("zero3", "--max-steps", "4", "--deepspeed", "zero3")
    assert zero3 == pytest.approx(plain, abs=1e-5)  # same token-normalised loss through DeepSpeed's scaling
    run("resumed", "--max-steps", "2", "--deepspeed", "zero3")
    resumed = run("resumed", "--max-steps", "4", "--deepspeed", "zero3", "--resume", "latest")
    assert resumed == zero3
    a, b = read_weights(tmp_path / "zero3" / "final"), read_weights(tmp_path / "resumed" / "final")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "zero3" / "checkpoint-4" / "deepspeed").is_dir()
