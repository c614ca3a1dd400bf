"""A 3-task `r1 sample` job array plus its dependent merge job, on the real one-node SLURM.

The commands are README's "Running on SLURM" sampling example, with a tiny model and 8 new tokens.
"""

from __future__ import annotations

import json
import time

import pytest

pytestmark = pytest.mark.slow


def test_sample_array_and_merge_give_every_id_once(slurm, tiny_world):
    t0 = time.monotonic()
    res = slurm.r1("slurm", "sample", "--array", "3", "--cpus-per-task", "1",
                   "--script", "sample.sbatch", "--submit", "--wait", "--",
                   "--model", "runs/tiny-model", "--data", "runs/data/problems.jsonl", "--n", "2",
                   "--max-new-tokens", "8", "--temperature", "1.0", "-o", "runs/sample", cwd=tiny_world)
    elapsed = time.monotonic() - t0
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    array_id, merge_id = res.stdout.split()  # one job id per line: the array, then the merge
    assert slurm.state(array_id) == "COMPLETED" and slurm.state(merge_id) == "COMPLETED"

    # the array's scripts and logs: task i ran shard i/3; the merge job waited on the array
    assert '--shard "$SLURM_ARRAY_TASK_ID/3"' in (tiny_world / "sample.sbatch").read_text()
    assert "--merge-shards 3" in (tiny_world / "sample-merge.sbatch").read_text()
    logs = sorted((tiny_world / "slurm-logs").glob(f"r1-sample-{array_id}_*.out"))
    assert len(logs) == 3, sorted(p.name for p in (tiny_world / "slurm-logs").iterdir())

    problems = [json.loads(line)["id"] for line in (tiny_world / "runs/data/problems.jsonl").read_text().splitlines()]
    out = tiny_world / "runs/sample"
    shards = [[json.loads(line)["id"] for line in (out / f"samples.shard{i}-of-3.jsonl").read_text().splitlines()]
              for i in range(3)]
    # 64 problems split i::3 -> 22, 21, 21 (disjoint)
    assert [len(s) for s in shards] == [22, 21, 21]
    merged = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    ids = [r["id"] for r in merged]
    assert ids == problems  # every input id exactly once, in input order
    assert all(len(r["samples"]) == 2 for r in merged)
    print(f"\nslurm sample array (3 tasks + merge, 64 problems): {elapsed:.1f} s")
