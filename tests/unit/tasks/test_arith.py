"""Arith: step order, integer parsing, the generator and the teacher."""

from __future__ import annotations

import random

import pytest

from r1cli.errors import R1Error
from r1cli.tasks.arith import ArithTask, parse_int, solve_steps


def test_solve_steps_follows_precedence():
    # 2 + 3 * 4: the product first (3*4=12), then 2+12=14
    assert solve_steps([2, 3, 4], ["+", "*"]) == [(3, "*", 4, 12), (2, "+", 12, 14)]
    # 12 + 34 - 7: left to right, 12+34=46, 46-7=39
    assert solve_steps([12, 34, 7], ["+", "-"]) == [(12, "+", 34, 46), (46, "-", 7, 39)]
    # 10 - 4 - 3: left-associative, (10-4)-3 = 3, not 10-(4-3) = 9
    assert solve_steps([10, 4, 3], ["-", "-"])[-1][3] == 3


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("39", 39),
        (" -4 ", -4),
        ("+7", 7),
        ("1,234", 1234),
        ("$39$", 39),
        ("3.5", None),
        ("x", None),
        ("", None),
    ],
)
def test_parse_int(text, value):
    assert parse_int(text) == value


def test_generate_is_deterministic_and_seed_dependent():
    task = ArithTask()
    first = task.generate(60, seed=7)
    assert first == task.generate(60, seed=7)
    assert first != task.generate(60, seed=8)
    assert task.generate(20, seed=7) == first[:20]
    assert first[0]["id"] == "arith-7-0"
    assert len({r["problem"] for r in first}) == 60


def test_default_difficulty_and_answers():
    task = ArithTask()
    for r in task.generate(300, seed=0):
        assert 2 <= len(r["operands"]) <= 3 and len(r["ops"]) == len(r["operands"]) - 1
        assert all(0 <= x <= 15 for x in r["operands"]) and set(r["ops"]) <= {"+", "-"}
        steps = solve_steps(r["operands"], r["ops"])
        assert all(result >= 0 for *_, result in steps)  # allow_negative=False
        assert r["answer"] == str(steps[-1][3])
        assert r["problem"].startswith("What is ") and r["problem"].endswith("?")


def test_every_teacher_trace_passes_its_checker():
    for task in (ArithTask(), ArithTask(ops="+-*", max_operands=4, allow_negative=True)):
        corrections = 0
        for seed in range(5):
            for r in task.generate(200, seed):
                trace = task.teacher(r, random.Random(r["id"]))
                assert trace.startswith("<think>\n") and "\n</think>\n\\boxed{" in trace
                assert task.check(trace, r), trace
                corrections += "Wait," in trace
        assert 100 < corrections < 200  # ~15% of 1000 traces self-correct


def test_teacher_trace_format():
    task = ArithTask(self_correct_prob=0.0)
    record = {
        "id": "x",
        "problem": "What is 12 + 34 - 7?",
        "answer": "39",
        "operands": [12, 34, 7],
        "ops": ["+", "-"],
    }
    assert task.teacher(record, random.Random(0)) == "<think>\n12+34=46\n46-7=39\n</think>\n\\boxed{39}"
    wrong = ArithTask(self_correct_prob=1.0).teacher(record, random.Random(0))
    assert "Wait, " in wrong and wrong.endswith("\\boxed{39}")


def test_check():
    task = ArithTask()
    record = {
        "id": "x",
        "problem": "What is 12 + 34 - 7?",
        "answer": "39",
        "operands": [12, 34, 7],
        "ops": ["+", "-"],
    }
    assert task.check("<think>\n...\n</think>\n\\boxed{39}", record)
    assert task.check("\\boxed{ 39 }", record)
    assert not task.check("\\boxed{40}", record)
    assert not task.check("39", record)  # no box
    assert not task.check("\\boxed{39", record)  # truncated box


def test_knob_validation_and_exhaustion():
    with pytest.raises(R1Error, match="ops"):
        ArithTask(ops="+/")
    with pytest.raises(R1Error, match="min_value"):
        ArithTask(min_value=3, max_value=2)
    # pairs from 0..3: 4*4 = 16 sums + 4+3+2+1 = 10 non-negative differences = 26 problems < 100
    with pytest.raises(R1Error, match="distinct problems"):
        ArithTask(max_value=3, max_operands=2).generate(100, 0)
    assert len(ArithTask(max_value=3, max_operands=2).generate(26, 0)) == 26  # all of them


def test_every_step_of_every_trace_is_true_except_the_slip():
    task = ArithTask(ops="+-*", max_operands=4, allow_negative=True)

    def true(step: str) -> bool:  # "12+34=46" or "-3+5=2"
        left, value = step.rstrip(".").split("=")
        return solve_steps(*_split(left))[-1][3] == int(value)

    def _split(expr: str) -> tuple[list[int], list[str]]:
        sign = -1 if expr.startswith("-") else 1
        body = expr[1:] if sign < 0 else expr
        op = next(o for o in "+-*" if o in body)
        a, b = body.split(op, 1)
        return [sign * int(a), int(b)], [op]

    for r in task.generate(300, seed=11):
        trace = task.teacher(r, random.Random(r["id"]))
        for line in trace.split("<think>\n")[1].split("\n</think>")[0].splitlines():
            if "Wait, " in line:
                wrong, right = line.split(" Wait, ")
                assert not true(wrong) and true(right)
            else:
                assert true(line), (r, line)


def test_language_switching_traces():
    from r1cli.rewards.language import language_consistency, thought_of

    record = {"id": "x", "problem": "What is 12 + 34 - 7?", "answer": "39", "operands": [12, 34, 7], "ops": ["+", "-"]}
    english = ArithTask(self_correct_prob=0.0, lang_switch_prob=1e-9).teacher(record, random.Random(0))
    assert english == "<think>\nadd 12+34=46\nminus 46-7=39\n</think>\n\\boxed{39}"
    switched = {ArithTask(self_correct_prob=0.0, lang_switch_prob=1.0).teacher(record, random.Random(s))
                for s in range(20)}  # the switch comes at step 1 or step 2 and lasts to the end
    assert switched == {"<think>\n加 12+34=46\n减 46-7=39\n</think>\n\\boxed{39}",
                        "<think>\nadd 12+34=46\n减 46-7=39\n</think>\n\\boxed{39}"}
    assert language_consistency(thought_of(sorted(switched)[0]), "en") == 0.5  # "add" and 减
    task = ArithTask(lang_switch_prob=0.3)
    traces = [task.teacher(r, random.Random(r["id"])) for r in task.generate(1000, 0)]
    assert all(task.check(t, r) for t, r in zip(traces, task.generate(1000, 0), strict=True))
    mixed = sum(language_consistency(thought_of(t), "en") < 1 for t in traces)
    assert 240 < mixed < 360  # ~30% of 1000 traces switch (fixed seeds)
    with pytest.raises(R1Error, match=r"lang_switch_prob must be in \[0, 1\], got 2"):
        ArithTask(lang_switch_prob=2)
