"""End to end: `r1 eval math500` against a scripted OpenAI-compatible server with known answers."""

from __future__ import annotations

import json

import pytest

from r1cli.eval.registry import MATH_INSTRUCTION
from tests.helpers.fake_openai_server import FakeOpenAIServer
from tests.integration._eval_cli import run_eval_cli

WRONG_A = "\\boxed{-98765}"
NO_ANSWER = ("I am not sure, let me think more and more", "length")


def _script(gold: str, group: int) -> list:
    right = f"<think>Some work.</think> The answer is \\boxed{{{gold}}}."
    return {
        0: [right, right, right, right],                  # c = 4
        1: [WRONG_A, right, right, NO_ANSWER],            # c = 2
        2: [right, WRONG_A, WRONG_A, NO_ANSWER],          # c = 1
        3: [NO_ANSWER, right, WRONG_A, NO_ANSWER],        # c = 1
    }[group]


def test_eval_math500_exact_metrics(benchmarks, tmp_path, monkeypatch):
    monkeypatch.setenv("R1_BENCHMARK_DIR", str(benchmarks))
    problems = [json.loads(line) for line in (benchmarks / "math500.jsonl").read_text().splitlines()[:20]]
    by_prompt = {f"{p['problem'].strip()}\n{MATH_INSTRUCTION}": (i, p["answer"]) for i, p in enumerate(problems)}

    def responder(prompt: str, index: int):
        i, gold = by_prompt[prompt]
        return _script(gold, i % 4)[index]

    out = tmp_path / "eval"
    with FakeOpenAIServer(responder) as server:
        args = ["math500", "--model", "fake-model", "--backend", "openai", "--base-url", server.url,
                "--limit", "20", "--n", "4", "-o", str(out), "--json"]
        res = run_eval_cli(*args)
        assert res.exit_code == 0, res.output
        first_requests = len(server.requests)
        # A rerun reuses samples.jsonl: no new requests, the same numbers.
        again = run_eval_cli(*args)
        assert again.exit_code == 0, again.output
        assert len(server.requests) == first_requests == 20  # one request of n=4 per problem
    bodies = [r.body for r in server.requests]  # concurrent requests: any order
    assert all(b["n"] == 4 and b["temperature"] == 0.6 and b["top_p"] == 0.95 for b in bodies)
    # one user turn, no system prompt, the R1 instruction after the problem
    assert sorted(b["messages"][0]["content"] for b in bodies) == sorted(by_prompt)
    assert all(len(b["messages"]) == 1 and b["messages"][0]["role"] == "user" for b in bodies)
    results = json.loads(res.stdout)[0]
    assert json.loads(again.stdout)[0]["metrics"] == results["metrics"]
    assert results == json.loads((out / "math500" / "results.json").read_text())
    assert (results["benchmark"], results["model"], results["num_problems"], results["n"]) == \
        ("math500", "fake-model", 20, 4)
    m = results["metrics"]
    # Five problems in each of the four groups.
    # pass@1 = (5*4/4 + 5*2/4 + 5*1/4 + 5*1/4) / 20 = (5 + 2.5 + 1.25 + 1.25) / 20 = 0.5
    assert m["pass@1"] == pytest.approx(0.5, abs=1e-12)
    # scores: 5x1, 5x0.5, 10x0.25 around 0.5 -> sum of squares 5*0.25 + 0 + 10*0.0625 = 1.875;
    # var = 1.875/19 = 0.0986842; stderr = sqrt(0.0986842)/sqrt(20) = 0.3141404/4.4721360 = 0.0702439
    assert m["pass@1_stderr"] == pytest.approx(0.0702439, abs=1e-6)
    # maj@1 (first sample): g0 right, g1 wrong, g2 right, g3 no vote -> 10/20 = 0.5
    # maj@2: g0 right; g1 [A, right] tie -> A (earliest) wrong; g2 [right, A] -> right; g3 [-, right] -> right
    #        -> 15/20 = 0.75
    # maj@4: g0 right; g1 right 2 vs A 1 -> right; g2 A 2 vs right 1 -> wrong; g3 right 1 vs A 1 tie ->
    #        right (earlier) -> 15/20 = 0.75
    assert m["maj@k"] == pytest.approx({"1": 0.5, "2": 0.75, "4": 0.75}, abs=1e-12)
    # pass@2: g0 1; g1 1 - C(2,2)/C(4,2) = 5/6; g2, g3 1 - C(3,2)/C(4,2) = 1/2 -> (1 + 5/6 + 1/2 + 1/2)/4
    #        = 0.7083333; pass@4 = 1 (every problem has a right sample)
    assert m["pass@k"] == pytest.approx({"1": 0.5, "2": 0.7083333, "4": 1.0}, abs=1e-6)
    # no answer: 0 + 1 + 1 + 2 per group of 4 samples -> 4 of 16 = 0.25; those are exactly the "length" ones
    assert m["no_answer_rate"] == pytest.approx(0.25) and m["truncated_rate"] == pytest.approx(0.25)
    lines = [json.loads(x) for x in (out / "math500" / "samples.jsonl").read_text().splitlines()]
    assert [r["id"] for r in lines] == [p["id"] for p in problems]
    s1 = lines[1]["samples"]  # group 1
    assert [s["correct"] for s in s1] == [False, True, True, False]
    assert [s["extracted"] for s in s1] == ["-98765", problems[1]["answer"], problems[1]["answer"], None]
    assert (out / "math500" / "pass_at_k.png").stat().st_size > 0


def test_backend_returning_fewer_samples_is_an_error(benchmarks, tmp_path, monkeypatch):
    from r1cli.errors import R1Error

    monkeypatch.setenv("R1_BENCHMARK_DIR", str(benchmarks))

    class Short:
        name = "short"

        def generate(self, prompts, params):
            from r1cli.generation.base import Completion

            return [[Completion(text="\\boxed{1}")] * (params.n - 1) for _ in prompts]

        def close(self):
            pass

    monkeypatch.setattr("r1cli.eval.runner.make_backend", lambda cfg: Short())
    res = run_eval_cli("math500", "--model", "m", "--limit", "2", "--n", "3", "-o", str(tmp_path))
    assert isinstance(res.exception, R1Error) and "expected n=3" in str(res.exception)


def test_two_benchmarks_in_one_call(benchmarks, tmp_path, monkeypatch):
    monkeypatch.setenv("R1_BENCHMARK_DIR", str(benchmarks))
    golds = {}
    for name in ("aime24", "amc23"):
        for line in (benchmarks / f"{name}.jsonl").read_text().splitlines()[:2]:
            p = json.loads(line)
            golds[f"{p['problem'].strip()}\n{MATH_INSTRUCTION}"] = p["answer"]

    with FakeOpenAIServer(lambda prompt, i: f"\\boxed{{{golds[prompt]}}}") as server:
        res = run_eval_cli("aime24", "amc23", "--model", "fake", "--backend", "openai", "--base-url", server.url,
                           "--limit", "2", "--n", "1", "-o", str(tmp_path), "--json")
    assert res.exit_code == 0, res.output
    results = json.loads(res.stdout)
    assert [r["benchmark"] for r in results] == ["aime24", "amc23"]
    assert all(r["metrics"]["pass@1"] == 1.0 and r["num_problems"] == 2 for r in results)
    assert (tmp_path / "aime24" / "results.json").is_file() and (tmp_path / "amc23" / "results.json").is_file()
