"""`r1 dpo` under torchrun: two CPU processes (gloo) train exactly like one with the same global batch."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.integration._cli import dpo_world, r1_env, run_r1, torchrun_argv

pytestmark = pytest.mark.slow


def test_two_processes_match_one(tmp_path):
    import torch

    from r1cli.train.checkpoint import read_weights

    model, data = dpo_world(tmp_path, num_layers=2)
    common = ["--model", str(model), "--data", str(data), "--max-steps", "4", "--batch-size", "2", "--lr", "3e-3",
              "--device", "cpu", "--set", "train.cpu_threads=1", "--set", "train.lr_scheduler=constant"]
    one = run_r1("dpo", *common, "--grad-accum", "2", "--output-dir", str(tmp_path / "one"))
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([*torchrun_argv(2, "dpo"), *common, "--grad-accum", "1", "--output-dir", str(tmp_path / "two")],
                         env=r1_env(), capture_output=True, text=True, timeout=400)
    assert two.returncode == 0, two.stderr[-3000:]
    assert "on 2 process(es)" in " ".join(two.stderr.split())

    def rows(d):
        return [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]

    for key in ("loss", "reward_accuracy", "reward_margin"):
        assert [r[key] for r in rows(tmp_path / "two")] == pytest.approx([r[key] for r in rows(tmp_path / "one")],
                                                                          abs=1e-6), key
    a, b = read_weights(tmp_path / "one" / "final"), read_weights(tmp_path / "two" / "final")
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=1e-6, msg=k)
