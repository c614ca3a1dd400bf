"""What SLURM job arrays run: `r1 eval --shard i/k` then `--merge-shards k` grades exactly like one run."""

from __future__ import annotations

import json

import pytest

from r1cli.errors import R1Error
from tests.helpers.fake_openai_server import FakeOpenAIServer
from tests.integration._eval_cli import run_eval_cli

N_PROBLEMS = 12


def _responder(prompt: str, index: int) -> str:
    # a deterministic function of the prompt: the same answers whichever shard asks
    return "\\boxed{1}" if (len(prompt) + index) % 3 else "\\boxed{7}"


def test_eval_shards_then_merge_equal_one_run(benchmarks, tmp_path, monkeypatch):
    monkeypatch.setenv("R1_BENCHMARK_DIR", str(benchmarks))
    with FakeOpenAIServer(_responder) as server:
        common = ["math500", "--model", "fake-model", "--backend", "openai", "--base-url", server.url,
                  "--limit", str(N_PROBLEMS), "--n", "2"]
        whole = run_eval_cli(*common, "-o", str(tmp_path / "whole"), "--json")
        assert whole.exit_code == 0, whole.output
        out = tmp_path / "sharded"
        for i in range(3):
            res = run_eval_cli(*common, "-o", str(out), "--shard", f"{i}/3")
            assert res.exit_code == 0, res.output
            assert not (out / "math500" / "results.json").exists()  # shards sample; the merge grades
        assert len(server.requests) == 2 * N_PROBLEMS  # each problem asked once by the whole run, once by a shard
    shard_ids = [[json.loads(x)["id"] for x in (out / "math500" / f"samples.shard{i}-of-3.jsonl").read_text().splitlines()]
                 for i in range(3)]
    assert [len(s) for s in shard_ids] == [4, 4, 4]  # 12 problems, i::3
    merged = run_eval_cli(*common, "-o", str(out), "--merge-shards", "3", "--json")
    assert merged.exit_code == 0, merged.output
    a, b = json.loads(whole.stdout)[0], json.loads(merged.stdout)[0]
    assert b["metrics"] == a["metrics"] and b["num_problems"] == N_PROBLEMS
    ids = [json.loads(x)["id"] for x in (out / "math500" / "samples.jsonl").read_text().splitlines()]
    whole_ids = [json.loads(x)["id"] for x in (tmp_path / "whole" / "math500" / "samples.jsonl").read_text().splitlines()]
    assert ids == whole_ids and sorted(ids) == sorted(sum(shard_ids, []))


def test_eval_merge_reports_a_missing_shard_and_refuses_bad_combinations(benchmarks, tmp_path, monkeypatch):
    monkeypatch.setenv("R1_BENCHMARK_DIR", str(benchmarks))
    out = tmp_path / "e" / "math500"
    out.mkdir(parents=True)
    (out / "samples.shard0-of-2.jsonl").write_text("")
    res = run_eval_cli("math500", "--model", "m", "--limit", "4", "-o", str(tmp_path / "e"), "--merge-shards", "2")
    assert isinstance(res.exception, R1Error) and "samples.shard1-of-2.jsonl: shard file not found" in str(res.exception)
    (out / "samples.shard1-of-2.jsonl").write_text("")
    res = run_eval_cli("math500", "--model", "m", "--limit", "4", "-o", str(tmp_path / "e"), "--merge-shards", "2")
    assert isinstance(res.exception, R1Error) and "4 problem(s) are missing" in str(res.exception)
    for extra, message in ((["--shard", "0/2", "--merge-shards", "2"], "separate runs"),
                           (["--shard", "2/2"], "need 0 <= i < k")):
        res = run_eval_cli("math500", "--model", "m", "-o", str(tmp_path / "e"), *extra)
        assert isinstance(res.exception, R1Error) and message in str(res.exception), res.output
    res = run_eval_cli("lm-eval:gsm8k", "--model", "m", "-o", str(tmp_path / "e"), "--shard", "0/2")
    assert isinstance(res.exception, R1Error) and "cannot shard" in str(res.exception)


@pytest.mark.parametrize("flag", ["--shard", "--merge-shards"])
def test_eval_compare_rejects_shard_flags(flag, tmp_path):
    res = run_eval_cli("compare", str(tmp_path), flag, "1" if flag == "--merge-shards" else "0/1")
    assert isinstance(res.exception, R1Error) and flag in str(res.exception)
