"""Keep/acceptance logic, stats, cost arithmetic, reward routing and the price flag."""

from __future__ import annotations

import pytest

from r1cli.config.distill import parse_price
from r1cli.distill.derive import Rewarder, cost_usd, derive, reward_name_for
from r1cli.distill.filters import FilterSettings
from r1cli.errors import R1Error


def trace(answer: str, reasoning: str = "Adding the numbers") -> str:
    return f"<think>\n{reasoning}\n</think>\n\n\\boxed{{{answer}}}"


def smp(text: str, reward: float | None, finish: str = "stop", tokens: int | None = 100) -> dict:
    return {"text": text, "finish_reason": finish, "num_tokens": tokens, "rewards": {"accuracy": reward}}


def records() -> list[dict]:
    """Two problems x 4 samples with known verdicts."""
    p1 = {"id": "p1", "problem": "What is 1 + 1?", "answer": "2", "prompt": "What is 1 + 1?\nReason.",
          "prompt_tokens": 1000, "model": "teacher", "samples": [
              smp(trace("3"), 0.0, tokens=50),                  # wrong -> reward
              smp(trace("2"), 1.0, tokens=120),                 # kept first
              smp("Adding the numbers", 0.0, finish="length", tokens=400),  # truncated -> finish_reason
              smp(trace("2", "Adding, 1+1=2"), 1.0, tokens=80),  # passes; kept when keep >= 2
          ]}
    p2 = {"id": "p2", "problem": "What is 2 + 2?", "answer": "4", "prompt": "What is 2 + 2?\nReason.",
          "prompt_tokens": 3000, "model": "teacher", "samples": [
              smp(trace("4"), 1.0, tokens=60),                  # kept first
              smp(trace("4"), 1.0, tokens=60),                  # identical to the first -> duplicate
              smp("2+2=4 \\boxed{4}", 1.0, tokens=30),          # no </think> -> think
              smp(trace("4"), None, tokens=70),                 # reward None -> unverifiable
          ]}
    return [p1, p2]


def test_keep_one_stats_and_records():
    sft, stats = derive(records(), reward="accuracy", settings=FilterSettings(), keep=1)
    # passed: p1 samples 1,3 and p2 sample 0 = 3 of 8; kept 1 per problem = 2; surplus 3 - 2 = 1
    assert [r["id"] for r in sft] == ["p1#1", "p2#0"]
    assert stats["samples"] == 8 and stats["passed"] == 3 and stats["kept"] == 2 and stats["surplus"] == 1
    assert stats["acceptance_rate"] == pytest.approx(3 / 8)
    assert stats["kept_rate"] == pytest.approx(2 / 8)
    assert stats["problem_yield"] == 1.0
    assert stats["rejected_by"] == {"finish_reason": 1, "think": 1, "max_tokens": 0, "language": 0,
                                    "paragraph": 0, "code": 0, "unverifiable": 1, "reward": 1, "duplicate": 1}
    assert sum(stats["rejected_by"].values()) == stats["samples"] - stats["passed"]
    # tokens: prompt 1000 + 3000; completion 50+120+400+80 + 60+60+30+70 = 870; kept 120 + 60 = 180
    assert stats["tokens"]["prompt"] == 4000
    assert stats["tokens"]["completion"] == 870
    assert stats["tokens"]["kept_completion"] == 180 and stats["tokens"]["mean_kept"] == 90
    assert stats["cost"] is None
    first = sft[0]
    assert first["messages"] == [
        {"role": "user", "content": "What is 1 + 1?\nReason."},
        {"role": "assistant", "content": "<think>\nAdding the numbers\n</think>\n\n\\boxed{2}"},
    ]
    assert (first["problem_id"], first["sample_index"], first["teacher"], first["reward"], first["num_tokens"]) == (
        "p1", 1, "teacher", 1.0, 120)


def test_keep_two_takes_the_next_passing_sample():
    sft, stats = derive(records(), reward="accuracy", settings=FilterSettings(), keep=2)
    assert [r["id"] for r in sft] == ["p1#1", "p1#3", "p2#0"]  # p2 has only one distinct passing trace
    assert stats["surplus"] == 0 and stats["kept"] == 3


def test_problem_without_a_passing_trace():
    recs = records()
    for s in recs[1]["samples"]:
        s["rewards"]["accuracy"] = 0.0
    sft, stats = derive(recs, reward="accuracy", settings=FilterSettings(), keep=1)
    assert [r["problem_id"] for r in sft] == ["p1"]
    assert stats["problems_with_kept"] == 1 and stats["problem_yield"] == 0.5


def test_cost_arithmetic():
    # 4,000 input tokens at $0.55/M = 0.0022; 1,250,000 output tokens at $2.19/M = 2.7375; total 2.7397
    c = cost_usd(4000, 1_250_000, 0.55, 2.19)
    assert c["input_usd"] == pytest.approx(0.0022)
    assert c["output_usd"] == pytest.approx(2.7375)
    assert c["total_usd"] == pytest.approx(2.7397)
    assert cost_usd(4000, 1_250_000, None, None) is None
    assert cost_usd(4000, 1_000_000, None, 2.0)["total_usd"] == pytest.approx(2.0)  # output price only


def test_cost_in_stats():
    # records(): 4,000 prompt + 870 completion tokens; one price $2/M -> (4000 + 870) * 2 / 1e6 = 0.00974
    _, stats = derive(records(), reward="accuracy", settings=FilterSettings(), keep=1,
                      input_per_mtok=2.0, output_per_mtok=2.0)
    assert stats["cost"]["total_usd"] == pytest.approx(0.00974)
    assert stats["cost"]["per_kept_usd"] == pytest.approx(0.00974 / 2)


def test_parse_price():
    assert parse_price("0.55,2.19") == (0.55, 2.19)
    assert parse_price(" 3 ") == (3.0, 3.0)
    for bad in ("", "a,b", "1,2,3", "-1"):
        with pytest.raises(R1Error, match="price-per-mtok"):
            parse_price(bad)


def test_reward_routing():
    assert reward_name_for({"tests": [{"input": "1", "output": "1"}]}, "auto") == "code"
    assert reward_name_for({"test_code": "assert f(1) == 1"}, "auto") == "code"
    assert reward_name_for({"tests": [], "answer": "3"}, "auto") == "accuracy"
    assert reward_name_for({"numbers": [1, 2], "target": 3}, "auto") == "countdown"
    assert reward_name_for({"answer": "3"}, "auto") == "accuracy"
    assert reward_name_for({"tests": "x"}, "acc") == "accuracy"  # a named reward wins (alias resolved)
    with pytest.raises(R1Error, match="unknown reward"):
        reward_name_for({}, "acuracy")


def test_rewarder_scores_only_missing_and_passes_columns():
    calls = []

    def factory(name, **params):
        def fn(completions, **columns):
            calls.append((name, params, list(completions), columns))
            return [1.0 if c.endswith("\\boxed{2}") else 0.0 for c in completions]
        return fn

    recs = [{"id": "a", "problem": "1+1", "answer": "2", "prompt": "q", "model": "m", "params": {},
             "samples": [{"text": trace("2")}, {"text": trace("3"), "rewards": {"accuracy": 0.5}}]},
            {"id": "b", "problem": "1+1", "answer": "2", "level": 3, "prompt": "q",
             "samples": [{"text": "\\boxed{2}", "reasoning": "one and one"}]}]
    r = Rewarder("auto", {"acc": {"timeout_s": 9}}, factory=factory)
    assert r.score(recs) == 2  # the sample that already has a reward is not scored again
    (name, params, texts, columns), = calls
    assert name == "accuracy" and params == {"timeout_s": 9}
    # separately returned reasoning is put back in front of the answer before grading
    assert texts == [trace("2"), "<think>\none and one\n</think>\n\n\\boxed{2}"]
    assert columns == {"answer": ["2", "2"], "level": [None, 3]}  # aligned; ids/prompts are not columns
    assert [s["rewards"]["accuracy"] for rec in recs for s in rec["samples"]] == [1.0, 0.5, 1.0]
    assert r.score(recs) == 0 and len(calls) == 1


def test_reward_mistakes_fail_before_sampling():
    with pytest.raises(R1Error, match="unknown reward"):
        Rewarder("acuracy").prepare()
    with pytest.raises(R1Error, match="has no parameter 'timeout'"):
        Rewarder("auto", {"accuracy": {"timeout": 3}}).prepare()
    Rewarder("auto", {"countdown": {}}).prepare()  # valid: nothing raised


def test_mix_in_draws_the_share_of_non_reasoning_records():
    from r1cli.distill.derive import mix_in

    sft = [{"id": f"t{i}"} for i in range(6)]
    pool = [{"id": f"c{i}", "messages": []} for i in range(10)]
    mixed, stats = mix_in(sft, pool, share=0.25, seed=0)  # 6 * 0.25 / 0.75 = 2
    assert mixed[:6] == sft and len(mixed) == 8
    assert all(r["source"] == "mix" and r["id"].startswith("c") for r in mixed[6:])
    assert len({r["id"] for r in mixed[6:]}) == 2
    assert stats == {"share": 0.25, "wanted": 2, "mixed": 2, "short_by": 0, "available": 10}
    assert mix_in(sft, pool, 0.25, seed=0)[0] == mixed  # the same seed draws the same records
    assert "source" not in pool[0]  # the pool is not changed
    _, stats = mix_in(sft, pool[:1], share=0.5, seed=0)  # wants 6, the file holds 1
    assert stats["wanted"] == 6 and stats["mixed"] == 1 and stats["short_by"] == 5
    assert mix_in(sft, pool, share=0.0)[0] == sft
    assert mix_in([], pool, share=0.25)[0] == []  # nothing kept: nothing to mix beside
