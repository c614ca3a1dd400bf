"""What SLURM job arrays run: `r1 eval --shard i/k` then `--merge-shards k` grades exactly like one run."""

from __future__ import annotations

import json
import zlib

import pytest

from r1cli.errors import R1Error
from tests.helpers.fake_openai_server import FakeOpenAIServer
from tests.integration._eval_cli import run_eval_cli

N_PROBLEMS = 12


def _responder(prompt: str, index: int) -> str:
    # the server counts samples per prompt over its whole life; with n=2, index % 2 is the sample's
    # position in its request, so a prompt gets the same answers whichever run (or shard) asks
    # prompt class c = crc32 % 3: c samples of 2 wrong -> pass rates 1, 1/2, 0 (the last 0 only answers 7)
    c = zlib.crc32(prompt.encode()) % 3
    return "\\boxed{1}" if index % 2 >= c else "\\boxed{7}"


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


# ----------------------------------------------------------------------------------- curate difficulty


def _curate(*args: str):
    from typer.testing import CliRunner

    from r1cli.app import app

    return CliRunner().invoke(app, ["curate", *args], catch_exceptions=True)


def test_curate_difficulty_shards_fill_the_cache_so_the_run_samples_nothing(tmp_path):
    from r1cli.commands.slurm_curate import main

    data = tmp_path / "problems.jsonl"
    # 10 distinct problems; the fake model answers 1 or 7 -> pass rates 0, 1/2 or 1 by prompt
    data.write_text("".join(json.dumps({"id": f"p{i}", "problem": f"What is {i} times {i + 3}?", "answer": "1"})
                            + "\n" for i in range(10)))
    with FakeOpenAIServer(_responder) as server:
        common = ["--data", str(data), "--steps", "normalize,difficulty", "--model", "fake-model", "--backend",
                  "openai", "--base-url", server.url, "--set", "generation.n=2"]
        whole = _curate(*common, "-o", str(tmp_path / "whole"))
        assert whole.exit_code == 0, whole.output
        asked = len(server.requests)
        assert asked > 0
        out = str(tmp_path / "sharded")
        for i in range(3):
            assert main(["shard", f"{i}/3", "--", *common, "-o", out]) == 0
        assert len(server.requests) == 2 * asked  # the shards together asked what the whole run asked
        shard_rows = [len((tmp_path / "sharded" / f"difficulty_samples.shard{i}-of-3.jsonl").read_text().splitlines())
                      for i in range(3)]
        assert shard_rows == [4, 3, 3]  # 10 rows, i::3
        assert main(["merge", "3", "--", *common, "-o", out]) == 0
        assert not (tmp_path / "sharded" / ".difficulty-shards").exists()
        final = _curate(*common, "-o", out)
        assert final.exit_code == 0, final.output
        assert len(server.requests) == 2 * asked  # every completion came from the merged cache
        assert main(["merge", "3", "--", *common, "-o", out]) == 0  # a rerun of the merge adds nothing
        cached = (tmp_path / "sharded" / "difficulty_samples.jsonl").read_text().splitlines()
        assert len(cached) == 10
    kept = (tmp_path / "whole" / "kept.jsonl").read_text().splitlines()
    assert 0 < len(kept) < 10  # pass rates 0 and 1 are dropped, 1/2 kept: the comparison below means something
    for name in ("kept.jsonl", "removed.jsonl"):
        assert (tmp_path / "sharded" / name).read_text() == (tmp_path / "whole" / name).read_text()


def test_curate_shard_errors(tmp_path, capsys):
    from r1cli.commands.slurm_curate import main

    data = tmp_path / "p.jsonl"
    data.write_text(json.dumps({"id": "a", "problem": "1+0?", "answer": "1"}) + "\n")
    assert main(["shard", "0/2", "--", "--data", str(data), "--steps", "normalize,dedup"]) == 2
    assert "add difficulty to --steps" in capsys.readouterr().err
    assert main(["merge", "2", "--", "--data", str(data), "--steps", "difficulty", "-o", str(tmp_path / "o")]) == 2
    assert "shard cache not found (2 of 2 missing)" in capsys.readouterr().err
    assert main(["split", "0/2"]) == 2 and "usage:" in capsys.readouterr().err
