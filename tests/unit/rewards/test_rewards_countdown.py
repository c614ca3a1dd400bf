"""countdown: <answer> (else last box) must use each number once and hit the target exactly."""

from __future__ import annotations

import pytest

from r1cli.errors import R1Error
from r1cli.rewards import get_reward
from r1cli.rewards.countdown import countdown_expression

NUMS, TARGET = [3, 5, 7], 20  # (7 - 3) * 5 = 4 * 5 = 20


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<answer>(7-3)*5</answer>", 1.0),
        ("<think>try 7+3+5=15, no</think>\n<answer>(7 - 3) * 5</answer>", 1.0),
        ("so \\boxed{(7-3)*5}", 1.0),  # no <answer>: the last box
        ("<answer>(7-3)*5 = 20</answer>", 1.0),  # a trailing "= target" is allowed
        ("<answer>(7-3)\\times 5</answer>", 1.0),  # LaTeX times
        ("<answer>(7+3)*5</answer>", 0.0),  # 10*5 = 50
        ("<answer>7*5-3*5</answer>", 0.0),  # 5 used twice, value 20 nevertheless
        ("<answer>(7-3)*5*1</answer>", 0.0),  # a number that was not given
        ("<answer>(7-3)*5</answer> <answer>7+3+5</answer>", 0.0),  # the last block counts: 15
        ("<think><answer>(7-3)*5</answer></think> <answer>7+3+5</answer>", 0.0),  # reasoning dropped
        ("<answer>__import__('os').system('true')</answer>", 0.0),  # never evaluated
        ("<answer>(7-3)**5</answer>", 0.0),  # only + - * /
        ("no answer", 0.0),
    ],
)
def test_countdown(text, expected):
    assert get_reward("countdown")([text], numbers=[NUMS], target=[TARGET]) == [expected]


def test_countdown_exact_rational_arithmetic_and_division_by_zero():
    fn = get_reward("countdown")
    # 1/49*49 = 1 exactly with fractions (0.9999999999999999 in floats)
    assert fn(["<answer>1/49*49</answer>"], numbers=[[1, 49, 49]], target=[1]) == [1.0]
    # 5/(3-3): division by zero scores 0, it does not raise
    assert fn(["<answer>5/(3-3)</answer>"], numbers=[[3, 3, 5]], target=[1]) == [0.0]


def test_countdown_rows_and_columns():
    fn = get_reward("countdown")
    assert fn(["<answer>1+2</answer>"], numbers=[None], target=[3]) == [None]  # cannot judge
    with pytest.raises(R1Error, match="needs the column 'numbers'"):
        fn(["<answer>1+2</answer>"], target=[3])


def test_countdown_expression():
    assert countdown_expression("<answer>\\boxed{1+2}</answer>") == "1+2"
    assert countdown_expression("<think>\\boxed{9}</think>") is None
