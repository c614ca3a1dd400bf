"""Answer location: final part, <answer> blocks, last balanced \\boxed{}, code blocks (pure Python)."""

from __future__ import annotations

import pytest

from r1cli.rewards.extract import (
    answer_block,
    completion_text,
    final_part,
    last_boxed,
    last_code_block,
    split_answer,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\\boxed{7}", "7"),
        ("\\boxed{1} wait \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),  # the last box wins
        ("\\boxed{\\{1,2\\}}", "\\{1,2\\}"),  # escaped braces do not close the box
        ("\\boxed{(1,2]}", "(1,2]"),
        ("\\boxed{3} then \\boxed{4", None),  # cut off inside the last box: 3 was not the answer
        ("\\boxed {5}", "5"),
        ("no box here", None),
        ("\\boxed{}", ""),
    ],
)
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # everything up to the last </think> is dropped, even boxed answers inside the reasoning
        ("<think>\\boxed{1}</think> so \\boxed{2}", ("boxed", "2")),
        ("<think>a</think>b</think> \\boxed{3}", ("boxed", "3")),
        # an <answer> block restricts the scope; a box inside it wins
        ("<answer>7</answer>", ("answer", "7")),
        ("<answer> x = 7 </answer>", ("answer", "x = 7")),
        ("<answer>\\boxed{12}</answer> \\boxed{13}", ("boxed", "12")),
        ("<answer>1</answer> <answer>2</answer>", ("answer", "2")),
        # no box, no block: the rest is left to math-verify
        ("<think>\\boxed{5}</think> The answer is 7.", ("text", "The answer is 7.")),
        ("<think>\\boxed{5}</think>   ", None),  # nothing after </think>
        ("", None),
        ("\\boxed{}", None),  # an empty box is no answer
        ("<think>work</think> so \\boxed{\\frac{14}{3}", None),  # truncated in the answer: no fallback
        ("<answer>\\boxed{1</answer>", None),
    ],
)
def test_split_answer(text, expected):
    assert split_answer(text) == expected


def test_final_part_and_answer_block():
    assert final_part("<think>r</think> tail") == " tail"
    assert final_part("no think tags") == "no think tags"
    assert answer_block("<answer>\n 3 \n</answer>") == "3"
    assert answer_block("<answer>unclosed") is None


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("plain", "plain"),
        ([{"role": "assistant", "content": "chat"}], "chat"),  # TRL conversational format
        ({"role": "assistant", "content": "one"}, "one"),
        (None, ""),
    ],
)
def test_completion_text(completion, expected):
    assert completion_text(completion) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("```python\nprint(1)\n```\nthen\n```python\nprint(2)\n```", "print(2)\n"),  # the last block
        ("```py\nx = 1\n```", "x = 1\n"),
        ("```\nprint(3)\n```", "print(3)\n"),  # unlabeled, when no python block exists
        ("```python\nprint(1)\n```\n```text\nnot code\n```", "print(1)\n"),  # other languages ignored
        ("<think>```python\nprint(0)\n```</think> no code after thinking", None),
        ("no fences", None),
    ],
)
def test_last_code_block(text, expected):
    assert last_code_block(text) == expected
