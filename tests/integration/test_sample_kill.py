"""Kill sampling with SIGKILL mid-run, rerun it, and check every id appears exactly once with n samples.

The child runs ``sample_to_file`` with the hf backend on the real tiny model. (When ``r1 sample`` is wired,
this can run the CLI instead; the engine and its guarantees are the same.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

N = 3
PROBLEMS = 40

CHILD = f"""
import json, sys, torch
torch.set_num_threads(1)
from r1cli.generation import make_backend
from r1cli.generation.base import SamplingParams
from r1cli.generation.sampler import sample_to_file
model_dir, data, out = sys.argv[1:4]
problems = [json.loads(line) for line in open(data)]
backend = make_backend("hf", model_dir, device="cpu")
params = SamplingParams(n={N}, temperature=1.0, top_p=0.95, max_new_tokens=24, seed=0)
summary = sample_to_file(backend, problems, params, out, prompt_fn=lambda r: [{{"role": "user", "content": r["problem"]}}],
                         model_name=model_dir, batch_problems=2, progress=False)
print(json.dumps(summary))
"""


def _count_lines(path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


@pytest.mark.slow
def test_sigkill_then_rerun_gives_each_id_once_with_n_samples(tmp_path):
    from r1cli.models.tiny import init_tiny

    model_dir = init_tiny(tmp_path / "tiny", hidden_size=64, num_layers=2, intermediate_size=128,
                          max_position_embeddings=256)
    data = tmp_path / "problems.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "problem": f"What is {i} + {i}?", "answer": str(2 * i)})
                            + "\n" for i in range(PROBLEMS)))
    out = tmp_path / "out" / "samples.jsonl"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    cmd = [sys.executable, str(script), str(model_dir), str(data), str(out)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}

    child = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _count_lines(out) < 4 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert child.poll() is None, "the child finished (or died) before it could be killed: " + \
        child.stderr.read().decode()[-2000:]
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    before = out.read_bytes()
    kept = before[: before.rfind(b"\n") + 1]  # complete lines at the moment of the kill
    assert 4 <= kept.count(b"\n") < PROBLEMS
    with out.open("ab") as f:  # whether or not the kill tore a line, make sure a torn one is handled
        f.write(b'{"id": "q39", "problem": "What is 39 + 39?", "samples": [{"te')

    rerun = subprocess.run(cmd, env=env, capture_output=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
    summary = json.loads(rerun.stdout.decode().strip().splitlines()[-1])

    after = out.read_bytes()
    assert after.startswith(kept)  # finished problems were kept untouched, not redone
    records = [json.loads(line) for line in after.decode().splitlines()]
    ids = [r["id"] for r in records]
    assert sorted(ids) == sorted(f"q{i}" for i in range(PROBLEMS)) and len(ids) == len(set(ids))
    assert all(len(r["samples"]) == N for r in records)
    assert summary["problems"] == PROBLEMS and summary["samples"] == PROBLEMS * N
    assert summary["resumed"] == kept.count(b"\n")
