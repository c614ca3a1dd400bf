"""`r1 dpo` under DeepSpeed ZeRO-2 on CPU (gloo, 2 processes): the same losses as a plain run with the same
global batch, and a resumed run ends with the weights of an uninterrupted one. Needs deepspeed (not in
`.[dev]`: skipped without it)."""

from __future__ import annotations

import importlib.util
import json
import subprocess

import pytest

from tests.integration._cli import dpo_world, r1_env, run_r1, torchrun_argv

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("deepspeed") is None, reason="deepspeed is not installed"),
]


def test_dpo_zero2_matches_plain_and_resumes_exactly(tmp_path):
    import torch

    from r1cli.train.checkpoint import read_weights

    model, data = dpo_world(tmp_path)
    common = ["--model", str(model), "--data", str(data), "--batch-size", "2", "--lr", "3e-3", "--device", "cpu",
              "--save-steps", "1", "--set", "train.cpu_threads=1", "--set", "train.lr_scheduler=constant"]

    def zero2(out, steps, *extra):
        done = subprocess.run([*torchrun_argv(2, "dpo"), *common, "--max-steps", str(steps), "-o", str(out),
                               "--set", "train.deepspeed=zero2", *extra],
                              env=r1_env(), capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]

    plain = run_r1("dpo", *common, "--max-steps", "3", "--grad-accum", "2", "-o", str(tmp_path / "plain"))
    assert plain.returncode == 0, plain.stderr[-2000:]
    zero2(tmp_path / "straight", 3)
    zero2(tmp_path / "resumed", 2)
    zero2(tmp_path / "resumed", 3, "--resume", "latest")

    def rows(d):
        return [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]

    assert [r["loss"] for r in rows(tmp_path / "straight")] == pytest.approx(
        [r["loss"] for r in rows(tmp_path / "plain")], abs=1e-5)
    assert [r["step"] for r in rows(tmp_path / "resumed")] == [1, 2, 3]
    a, b = read_weights(tmp_path / "straight" / "final"), read_weights(tmp_path / "resumed" / "final")
    assert a and set(a) == set(b)
    for k in a:
        assert torch.equal(a[k], b[k]), k
