"""Benchmark registry: protocol defaults, prompts, data sources and the tiny-task held-out split."""

from __future__ import annotations

import json

import pytest

from r1cli.errors import R1Error
from r1cli.eval.registry import (
    BENCHMARKS,
    MATH_INSTRUCTION,
    TASK_EVAL_OFFSET,
    get_benchmark,
    load_benchmark,
    locate_data,
    resolve_benchmark,
)


def test_protocol_defaults():
    assert {name: b.n for name, b in BENCHMARKS.items()} == {
        "aime24": 64, "aime25": 64, "amc23": 16, "math500": 4, "gsm8k": 1, "gpqa-diamond": 8,
        "countdown": 4, "arith": 4}
    for name in ("aime24", "aime25", "amc23", "math500", "gsm8k", "gpqa-diamond"):
        b = BENCHMARKS[name]
        assert (b.temperature, b.top_p, b.max_new_tokens) == (0.6, 0.95, 32768)
    assert get_benchmark("gpqa").name == "gpqa-diamond" and get_benchmark("MATH-500").name == "math500"


def test_unknown_benchmark_suggests():
    with pytest.raises(R1Error, match="did you mean .math500."):
        get_benchmark("math50")


def test_math_prompt_is_one_user_turn_with_the_r1_instruction():
    msgs = get_benchmark("aime24").prompt({"problem": "Find x. "})
    assert msgs == [{"role": "user", "content": "Find x.\n" + MATH_INSTRUCTION}]
    assert MATH_INSTRUCTION == "Please reason step by step, and put your final answer within \\boxed{}."
    custom = get_benchmark("aime24").prompt({"problem": "Find x."}, "Q: {problem}\nA:")
    assert custom[0]["content"] == "Q: Find x.\nA:"


def test_choice_prompt_has_options_and_instruction():
    rec = {"problem": "Q?", "choices": ["a", "b", "c", "d"], "answer": "A"}
    text = get_benchmark("gpqa-diamond").prompt(rec)[0]["content"]
    assert text.startswith("Q?\n\nA) a\nB) b\nC) c\nD) d\n\n") and text.endswith(MATH_INSTRUCTION)


def test_local_benchmark_dir(benchmarks, monkeypatch):
    monkeypatch.setenv("R1_BENCHMARK_DIR", str(benchmarks))
    recs = load_benchmark("math500", limit=3)
    assert [r["id"] for r in recs] == ["math500-0", "math500-1", "math500-2"]
    assert recs[0]["answer"] == "\\left( 3, \\frac{\\pi}{2} \\right)"
    name, recs = resolve_benchmark("AIME2024")  # an alias resolves to the registry name
    assert name == "aime24" and [r["id"] for r in recs] == [f"aime24-{i}" for i in range(5)]  # the fixture's 5


def test_offline_hub_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("R1_BENCHMARK_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(R1Error) as e:
        load_benchmark("aime24")
    assert str(e.value) == (
        f"benchmark 'aime24': no aime24.jsonl in $R1_BENCHMARK_DIR ({tmp_path}), and hub dataset "
        "'HuggingFaceH4/aime_2024' could not be loaded: offline mode is on (HF_HUB_OFFLINE/HF_DATASETS_OFFLINE=1) "
        "and it is not in the datasets cache; set R1_BENCHMARK_DIR to a folder with aime24.jsonl, or pass the "
        "file with --data FILE")


def test_data_file_with_hub_field_names(tmp_path):
    # a raw GSM8K export: 'question' and a rationale answer ending in '#### N'
    p = tmp_path / "gsm.jsonl"
    p.write_text(json.dumps({"question": "2+3?", "answer": "2+3=5\n#### 1,005"}) + "\n")
    recs = load_benchmark("gsm8k", data=p)
    assert recs[0]["problem"] == "2+3?" and recs[0]["answer"] == "1005"
    assert locate_data(get_benchmark("gsm8k"), p) == ("file", str(p))


def test_gpqa_from_file_is_shuffled_deterministically(tmp_path):
    p = tmp_path / "gpqa.jsonl"
    row = {"Record ID": "r1", "Question": "Q?", "Correct Answer": "yes", "Incorrect Answer 1": "no",
           "Incorrect Answer 2": "maybe", "Incorrect Answer 3": "never"}
    p.write_text(json.dumps(row) + "\n")
    a, b = load_benchmark("gpqa", data=p)[0], load_benchmark("gpqa", data=p)[0]
    assert a == b and a["choices"]["ABCD".index(a["answer"])] == "yes"


def test_task_split_is_held_out_from_default_training_data():
    from r1cli.tasks import get_task

    for name in ("countdown", "arith"):
        recs = load_benchmark(name, limit=50)
        assert len(recs) == 50 and recs[0]["id"] == f"{name}-0-{TASK_EVAL_OFFSET}"
        # `r1 data make` defaults: --n 1000 --held-out 200 --seed 0 -> generate(1200, 0)
        train = {r["problem"] for r in get_task(name).generate(1200, 0)}
        assert not train & {r["problem"] for r in recs}
        assert recs == load_benchmark(name, limit=50)  # fixed
