"""sample_to_file / merge_shards with a scripted backend: records, resume, shards, summary."""

from __future__ import annotations

import json

import pytest

from r1cli.errors import R1Error
from r1cli.generation.base import Completion, GenerationBackend, SamplingParams
from r1cli.generation.sampler import (
    merge_shards,
    parse_shard,
    sample_to_file,
    select_problems,
    shard_path,
    summary_path,
)


class ScriptedBackend(GenerationBackend):
    """Sample k of prompt p is "p#k" with k+1 token ids; sample 0 is cut by length, the others stop."""

    name = "scripted"

    def __init__(self, short_by: int = 0, usage_only: bool = False):
        self.calls: list[list[str]] = []
        self.short_by, self.usage_only = short_by, usage_only

    def generate(self, prompts, params):
        self.calls.append(list(prompts))
        out = []
        for p in prompts:
            group = []
            for k in range(params.n - self.short_by):
                ids = () if self.usage_only else tuple(range(k + 1))
                group.append(Completion(text=f"{p}#{k}", token_ids=ids, finish_reason="length" if k == 0 else "stop",
                                        usage={"completion_tokens": 10 * (k + 1)} if self.usage_only else {}))
            out.append(group)
        return out


PROBLEMS = [{"id": f"p{i}", "problem": f"q{i}", "answer": str(i), "level": i % 2} for i in range(5)]
PARAMS = SamplingParams(n=2, temperature=0.6, max_new_tokens=8, seed=1)


def run(path, backend=None, **kw):
    backend = backend or ScriptedBackend()
    kw.setdefault("progress", False)
    summary = sample_to_file(backend, PROBLEMS, PARAMS, path, prompt_fn=lambda r: r["problem"],
                             model_name="m", **kw)
    return backend, summary


def lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_records_and_summary(tmp_path):
    path = tmp_path / "samples.jsonl"
    backend, summary = run(path, batch_problems=2)
    recs = lines(path)
    assert [r["id"] for r in recs] == ["p0", "p1", "p2", "p3", "p4"]
    assert recs[1] == {"id": "p1", "problem": "q1", "answer": "1", "level": 1,
                       "samples": [{"text": "q1#0", "finish_reason": "length", "num_tokens": 1},
                                   {"text": "q1#1", "finish_reason": "stop", "num_tokens": 2}],
                       "model": "m", "params": {"n": 2, "temperature": 0.6, "top_p": 0.95, "max_new_tokens": 8,
                                                "stop": [], "seed": 1, "top_k": 0}}
    assert [len(c) for c in backend.calls] == [2, 2, 1]  # batch_problems=2 over 5 problems
    # 5 problems x 2 samples = 10 samples; tokens 1 + 2 per problem = 15; half the samples are cut
    assert (summary["problems"], summary["samples"], summary["tokens"]) == (5, 10, 15)
    assert summary["truncation_rate"] == 0.5 and summary["mean_tokens"] == 1.5
    assert summary["run"]["new_problems"] == 5 and summary["run"]["new_tokens"] == 15
    assert json.loads(summary_path(path).read_text()) == summary


def test_resume_skips_done_and_drops_torn_line(tmp_path):
    path = tmp_path / "samples.jsonl"
    run(path, limit=2)
    with path.open("a") as f:
        f.write('{"id": "p2", "problem": "q2", "sam')  # a write cut by SIGKILL
    backend, summary = run(path)
    assert backend.calls == [["q2", "q3", "q4"]]  # p0, p1 kept; the torn p2 regenerated
    ids = [r["id"] for r in lines(path)]
    assert ids == ["p0", "p1", "p2", "p3", "p4"] and summary["resumed"] == 2
    backend, _ = run(path)
    assert backend.calls == []  # everything done: nothing to sample


def test_resume_with_other_params_is_refused(tmp_path):
    path = tmp_path / "samples.jsonl"
    run(path, limit=1)
    with pytest.raises(R1Error, match="other sampling params"):
        sample_to_file(ScriptedBackend(), PROBLEMS, SamplingParams(n=3), path, prompt_fn=str,
                       model_name="m", progress=False)


def test_backend_returning_too_few_samples_is_an_error(tmp_path):
    with pytest.raises(R1Error, match="returned 1 samples for problem 'p0', expected n=2"):
        run(tmp_path / "s.jsonl", backend=ScriptedBackend(short_by=1))


def test_usage_counts_tokens_when_backend_gives_no_ids(tmp_path):
    path = tmp_path / "s.jsonl"
    _, summary = run(path, backend=ScriptedBackend(usage_only=True), limit=1)
    assert [s["num_tokens"] for s in lines(path)[0]["samples"]] == [10, 20]
    assert summary["tokens"] == 30


def test_shards_disjoint_complete_and_merge(tmp_path):
    # 5 problems, k=2: shard 0 takes indices 0, 2, 4 and shard 1 takes 1, 3
    assert [p["id"] for p in select_problems(PROBLEMS, shard=(0, 2))] == ["p0", "p2", "p4"]
    assert [p["id"] for p in select_problems(PROBLEMS, shard=(1, 2))] == ["p1", "p3"]
    out = tmp_path / "samples.jsonl"
    paths = [shard_path(out, (i, 2)) for i in range(2)]
    assert paths[1].name == "samples.shard1-of-2.jsonl"
    for i in range(2):
        run(paths[i], shard=(i, 2))
    assert summary_path(paths[0], (0, 2)).name == "summary.shard0-of-2.json"
    summary = merge_shards(paths, out, expected_ids=[p["id"] for p in PROBLEMS])
    assert [r["id"] for r in lines(out)] == ["p0", "p1", "p2", "p3", "p4"]
    assert summary["missing"] == 0 and summary["problems"] == 5 and summary["samples"] == 10


def test_merge_reports_missing_and_refuses_duplicates(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    run(a, limit=2)
    summary = merge_shards([a], tmp_path / "m.jsonl", expected_ids=["p0", "p1", "p2"])
    assert summary["missing"] == 1 and summary["missing_ids"] == ["p2"]
    run(b, limit=1)
    with pytest.raises(R1Error, match=r"duplicate id 'p0' in .*a.jsonl:1 and .*b.jsonl:1"):
        merge_shards([a, b], tmp_path / "m.jsonl")


def test_parse_shard():
    assert parse_shard("2/8") == (2, 8) and parse_shard(None) is None
    for bad in ("8/8", "a/b", "1", "-1/4", "0/0"):
        with pytest.raises(R1Error, match="--shard"):
            parse_shard(bad)


def test_duplicate_problem_ids_rejected(tmp_path):
    with pytest.raises(R1Error, match="duplicate problem id 'x'"):
        sample_to_file(ScriptedBackend(), [{"id": "x", "problem": "a"}, {"id": "x", "problem": "b"}], PARAMS,
                       tmp_path / "s.jsonl", prompt_fn=str, model_name="m", progress=False)


def test_progress_bar_and_on_record(tmp_path, capsys):
    seen = []
    run(tmp_path / "s.jsonl", progress=True, on_record=lambda r: seen.append(r["id"]))
    assert seen == ["p0", "p1", "p2", "p3", "p4"]
    err = capsys.readouterr().err
    assert "problems/s" in err and "tokens/s" in err


def test_chunk_size_follows_backend_hint(tmp_path):
    backend = ScriptedBackend()
    backend.problems_per_call = 3  # e.g. OpenAIBackend: 4 x concurrency
    run(tmp_path / "s.jsonl", backend=backend)
    assert [len(c) for c in backend.calls] == [3, 2]
    no_hint, _ = run(tmp_path / "t.jsonl")
    assert [len(c) for c in no_hint.calls] == [5]  # default chunk 16 > 5 problems: one call
