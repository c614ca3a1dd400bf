"""Countdown: the safe expression checker, the generator and the teacher."""

from __future__ import annotations

import random

import pytest

from r1cli.errors import R1Error
from r1cli.tasks import get_task
from r1cli.tasks.countdown import CountdownTask, check_expression


@pytest.mark.parametrize(
    ("expr", "numbers", "target", "ok"),
    [
        ("(7-3)*5", [3, 5, 7], 20, True),  # (7-3)*5 = 4*5 = 20
        ("5*(7-3)", [7, 3, 5], 20, True),  # order of the given numbers does not matter
        (" (7 - 3) * 5 ", [3, 5, 7], 20, True),  # spaces allowed
        ("(7-3)*5 = 20", [3, 5, 7], 20, True),  # a trailing "= target" is allowed
        ("(7-3)*5 = 21", [3, 5, 7], 20, False),  # ... but it must be the target
        ("7\\times 3-1", [7, 3, 1], 20, True),  # LaTeX times: 21-1 = 20
        ("8/(3-8/3)", [8, 3, 8, 3], 24, True),  # exact: 3-8/3 = 1/3, 8/(1/3) = 24 (float gives 23.99...)
        ("7-3*5", [3, 5, 7], 20, False),  # precedence: 7-15 = -8
        ("(7-3)*5", [3, 5, 7, 2], 20, False),  # 2 is never used
        ("(7-3)*5*1", [3, 5, 7], 20, False),  # 1 is not a given number
        ("7+7+6", [7, 6], 20, False),  # 7 used twice: reuse
        ("8/(4-4)", [8, 4, 4], 0, False),  # division by zero
        ("__import__('os')", [1], 1, False),  # names and calls
        ("2**3", [2, 3], 8, False),  # power
        ("7//2", [7, 2], 3, False),  # floor division
        ("a+1", [1], 1, False),  # names
        ("-3+8", [3, 8], 5, False),  # unary minus is not allowed
        ("3.0+2", [3, 2], 5, False),  # decimals
        ("1_0+1", [10, 1], 11, False),  # Python digit separators
        ("", [1], 1, False),
        ("(7-3", [3, 7], 4, False),  # syntax error
        ("+".join(["1"] * 150), [1] * 150, 150, False),  # longer than the 200-character cap
    ],
)
def test_check_expression_table(expr, numbers, target, ok):
    assert check_expression(expr, numbers, target) is ok


def test_check_expression_rejects_bad_numbers_argument():
    assert check_expression("1+2", ["x", 2], 3) is False  # type: ignore[list-item]


def test_generate_is_deterministic_and_seed_dependent():
    task = CountdownTask()
    first = task.generate(40, seed=3)
    assert first == task.generate(40, seed=3)
    assert first != task.generate(40, seed=4)
    assert task.generate(10, seed=3) == first[:10]  # a prefix of a longer run
    assert [r["id"] for r in first[:3]] == ["countdown-3-0", "countdown-3-1", "countdown-3-2"]
    assert len({r["problem"] for r in first}) == 40  # distinct problems


def test_generated_problems_are_solvable_and_in_range():
    task = CountdownTask()
    for r in task.generate(300, seed=0):
        assert 3 <= len(r["numbers"]) <= 4
        assert all(1 <= x <= 20 for x in r["numbers"])
        assert 1 <= r["target"] <= 100
        assert check_expression(r["answer"], r["numbers"], r["target"])
        assert str(r["target"]) in r["problem"]


def test_every_teacher_trace_passes_its_checker():
    task = CountdownTask()
    corrections = 0
    for seed in range(5):
        for r in task.generate(200, seed):
            trace = task.teacher(r, random.Random(r["id"]))
            assert trace.startswith("<think>\n")
            assert "\n</think>\n\\boxed{" in trace
            assert task.check(trace, r), trace
            corrections += "Wait," in trace
    # 1000 traces at self_correct_prob 0.15: about 150 self-correct (loose bounds, fixed seeds).
    assert 100 < corrections < 200


def test_teacher_steps_reach_the_target():
    task = CountdownTask(self_correct_prob=0.0)
    record = {"id": "x", "problem": "", "answer": "(7-3)*5", "numbers": [7, 3, 5], "target": 20}
    trace = task.teacher(record, random.Random(0))
    # (7-3)*5: first 7-3=4 leaving 5 and 4, then 4*5=20
    assert trace == "<think>\nTarget 20.\n7-3=4. Left: 5 4.\n4*5=20.\n</think>\n\\boxed{(7-3)*5}"


def test_check_uses_the_last_box_and_the_records_numbers():
    task = CountdownTask()
    record = {"id": "x", "problem": "", "answer": "(7-3)*5", "numbers": [7, 3, 5], "target": 20}
    assert task.check("\\boxed{7+3+5} no, \\boxed{(7-3)*5}", record)
    assert not task.check("\\boxed{(7-3)*5} no, \\boxed{7+3+5}", record)  # 7+3+5 = 15
    assert not task.check("(7-3)*5", record)  # no box


def test_knobs_are_validated():
    with pytest.raises(R1Error, match="min_numbers"):
        get_task("countdown", min_numbers=5, max_numbers=4)
    task = get_task("countdown", min_numbers=4, max_numbers=4, max_target=50)
    assert all(len(r["numbers"]) == 4 and r["target"] <= 50 for r in task.generate(50, 0))


def _true_step(line: str) -> bool:
    """'7-3=4. Left: 5 4.' -> 7-3 == 4; exact for division."""
    from fractions import Fraction

    left, _, rest = line.partition("=")
    value = rest.split(".")[0]
    a, op, b = next(left.partition(o) for o in "+-*/" if o in left)
    x, y = Fraction(int(a)), Fraction(int(b))
    exact = {"+": x + y, "-": x - y, "*": x * y, "/": x / y}[op]
    return exact == int(value)


def test_every_step_of_every_trace_is_true_except_the_slip():
    task = CountdownTask()
    for r in task.generate(300, seed=11):
        trace = task.teacher(r, random.Random(r["id"]))
        body = trace.split("<think>\n")[1].split("\n</think>")[0].splitlines()[1:]  # skip "Target N."
        for line in body:
            if "Wait, " in line:
                wrong, right = line.split(" Wait, ")
                assert not _true_step(wrong) and _true_step(right)
            else:
                assert _true_step(line), (r, line)
