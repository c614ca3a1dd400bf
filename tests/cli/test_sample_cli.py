"""`r1 sample` through the real command line: config, shards and their merge."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from r1cli.models.tiny import init_tiny
from r1cli.tasks import write_task_data


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    model = init_tiny(root / "model")
    data = write_task_data("arith", 7, 0, root / "data", held_out=0)
    return model, data["problems"]


def r1(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "r1cli", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}, timeout=300, cwd=cwd)


def ids(path):
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


def test_sample_writes_records_config_and_summary(world, tmp_path):
    model, problems = world
    res = r1("sample", "--model", model, "--data", problems, "--n", 2, "--max-new-tokens", 8, "-o", tmp_path)
    assert res.returncode == 0, res.stderr
    records = [json.loads(x) for x in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 7 and all(len(r["samples"]) == 2 for r in records)
    assert all(s["num_tokens"] <= 8 for r in records for s in r["samples"])
    assert "n: 2" in (tmp_path / "config.yaml").read_text()
    assert json.loads((tmp_path / "summary.json").read_text())["samples"] == 14


def test_shards_are_disjoint_and_merge_to_every_id_once(world, tmp_path):
    model, problems = world
    for i in range(3):
        res = r1("sample", "--model", model, "--data", problems, "--n", 1, "--max-new-tokens", 4,
                 "-o", tmp_path, "--shard", f"{i}/3")
        assert res.returncode == 0, res.stderr
    shard_ids = [ids(tmp_path / f"samples.shard{i}-of-3.jsonl") for i in range(3)]
    assert sum(len(s) for s in shard_ids) == 7 and len(set().union(*map(set, shard_ids))) == 7
    res = r1("sample", "--data", problems, "-o", tmp_path, "--merge-shards", 3)
    assert res.returncode == 0, res.stderr
    expected = [json.loads(x)["id"] for x in open(problems)]
    assert ids(tmp_path / "samples.jsonl") == expected


def test_merge_with_a_missing_shard_fails(world, tmp_path):
    model, problems = world
    r1("sample", "--model", model, "--data", problems, "--n", 1, "--max-new-tokens", 4, "-o", tmp_path,
       "--shard", "0/2")
    res = r1("sample", "--data", problems, "-o", tmp_path, "--merge-shards", 2)
    assert res.returncode == 2 and "shard file not found" in res.stderr


def test_bad_shard_and_missing_data_are_one_line_errors(world, tmp_path):
    model, problems = world
    res = r1("sample", "--model", model, "--data", problems, "--shard", "3/3", "-o", tmp_path)
    assert res.returncode == 2 and "--shard '3/3'" in res.stderr
    res = r1("sample", "--model", model, "-o", tmp_path)
    assert res.returncode == 2 and "--data" in res.stderr


def _launched(rank, world):
    """The environment torchrun / accelerate give process ``rank`` of ``world``."""
    return {"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank), "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": "29999"}


def test_under_a_launcher_each_rank_samples_its_shard(world, tmp_path):
    model, problems = world
    outs = [r1("sample", "--model", model, "--data", problems, "--n", 1, "--max-new-tokens", 4, "-o", tmp_path,
               env=_launched(rank, 2)) for rank in (1, 0)]
    assert all(o.returncode == 0 for o in outs), outs[0].stderr + outs[1].stderr
    assert "--merge-shards 2" in outs[1].stderr and "--merge-shards" not in outs[0].stderr  # rank 0 says it
    assert not (tmp_path / "samples.jsonl").exists()  # no rank writes the shared file
    shard_ids = [ids(tmp_path / f"samples.shard{i}-of-2.jsonl") for i in range(2)]
    assert not set(shard_ids[0]) & set(shard_ids[1])
    res = r1("sample", "--data", problems, "-o", tmp_path, "--merge-shards", 2)
    assert res.returncode == 0, res.stderr
    assert ids(tmp_path / "samples.jsonl") == [json.loads(x)["id"] for x in open(problems)]


def test_launcher_and_shard_together_or_one_process_commands_are_one_line_errors(world, tmp_path):
    model, problems = world
    res = r1("sample", "--model", model, "--data", problems, "--shard", "0/2", "-o", tmp_path, env=_launched(0, 2))
    assert res.returncode == 2 and "WORLD_SIZE=2" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    for cmd in (["curate", "--data", problems], ["distill", "--data", problems]):
        res = r1(*cmd, "-o", tmp_path / cmd[0], env=_launched(1, 4))
        assert res.returncode == 2, res.stderr
        assert "runs as one process" in res.stderr and "WORLD_SIZE=4" in res.stderr
        assert not (tmp_path / cmd[0]).exists()  # refused before writing anything
