"""format (think / think-answer, prefilled), tag_count and reasoning_steps: hand-checked tables."""

from __future__ import annotations

import pytest

from r1cli.errors import R1Error
from r1cli.rewards import get_reward

THINK = [
    ("<think>a</think> answer", 1.0),
    ("  <think>a</think> answer", 1.0),  # leading whitespace before the opening tag is fine
    ("a</think> answer", 1.0),  # the opening tag is optional
    ("<think>a</think>", 0.0),  # empty final part
    ("<think>a</think>  \n ", 0.0),  # whitespace-only final part
    ("<think>a</think> x </think> y", 0.0),  # two closing tags
    ("<think>a<think>b</think> y", 0.0),  # a second opening tag
    ("pre <think>a</think> y", 0.0),  # opening tag not leading
    ("a</think> y <think>", 0.0),  # a stray opening tag after the reasoning
    ("no tags at all", 0.0),
    ("", 0.0),
]


@pytest.mark.parametrize(("text", "expected"), THINK)
def test_format_think(text, expected):
    assert get_reward("format")([text]) == [expected]


THINK_ANSWER = [
    ("<think>r</think><answer>7</answer>", 1.0),
    ("<think>\nr\n</think>\n<answer>\n7\n</answer>\n", 1.0),  # whitespace between and after the tags
    ("<think></think><answer>7</answer>", 1.0),  # the reasoning may be empty
    ("<think>r</think><answer> </answer>", 0.0),  # the answer may not
    ("<think>r</think><answer>7</answer> trailing", 0.0),  # only whitespace after </answer>
    ("<think>r</think><answer>7</answer><answer>8</answer>", 0.0),  # repeated tags never score
    ("<think>r</think><think>s</think><answer>7</answer>", 0.0),
    ("<answer>7</answer><think>r</think>", 0.0),  # wrong order
    ("<think>r</think> text <answer>7</answer>", 0.0),  # text between the blocks
    ("<think>r<answer>7</answer></think>", 0.0),  # answer inside the reasoning
    ("r</think><answer>7</answer>", 0.0),  # no opening tag (unless prefilled)
]


@pytest.mark.parametrize(("text", "expected"), THINK_ANSWER)
def test_format_think_answer(text, expected):
    assert get_reward("format", style="think-answer")([text]) == [expected]


@pytest.mark.parametrize(
    ("style", "text", "expected"),
    [
        ("think-answer", "r</think><answer>7</answer>", 1.0),  # <think> came from the prompt
        ("think-answer", "<think>r</think><answer>7</answer>", 0.0),  # ... so this opens a second one
        ("think", "r</think> 7", 1.0),
        ("think", "<think>r</think> 7", 0.0),
    ],
)
def test_format_prefilled_think(style, text, expected):
    assert get_reward("format", style=style, prefilled_think=True)([text]) == [expected]


def test_format_unknown_style():
    with pytest.raises(R1Error, match="unknown style 'xml'.*think, think-answer"):
        get_reward("format", style="xml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>\nx\n</think>\n<answer>\n7\n</answer>", 1.0),  # 4 pieces once each: 4 x 0.25
        ("<think>\nx\n</think>\n<answer>7</answer>", 0.5),  # "\n<answer>\n" and "\n</answer>" missing
        ("<think>\na\n</think>\n<think>\nb\n</think>\n<answer>\n7\n</answer>", 0.5),  # think pieces twice: 0
        ("x\n</think>\n<answer>\n7\n</answer>", 0.75),  # no "<think>\n"
        ("nothing", 0.0),
    ],
)
def test_tag_count(text, expected):
    assert get_reward("tag_count")([text]) == [expected]


def test_tag_count_prefilled():
    # "<think>\n" is prepended: 0.75 above becomes 1.0
    assert get_reward("tag_count", prefilled_think=True)(["x\n</think>\n<answer>\n7\n</answer>"]) == [1.0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Step 1: a\nStep 2: b\nStep 3: c", 1.0),  # 3 markers -> min(1, 3/3)
        ("First, a. Next, b.", 2 / 3),  # 2 markers -> 2/3
        ("1. a\n2. b\n- c\n* d", 1.0),  # 4 markers -> min(1, 4/3) = 1
        ("  3) only item", 1 / 3),  # numbered item with indentation -> 1/3
        ("Firstly, see item 1. above", 0.0),  # "Firstly," is not "First,"; "1." mid-line is no item
        ("Finally, done", 1 / 3),
        ("", 0.0),
    ],
)
def test_reasoning_steps(text, expected):
    assert get_reward("reasoning_steps")([text]) == [pytest.approx(expected)]


def test_reasoning_steps_target():
    # 2 markers with target_steps=2 -> min(1, 2/2) = 1
    assert get_reward("reasoning_steps", target_steps=2)(["Step 1: a\nStep 2: b"]) == [1.0]
    with pytest.raises(R1Error, match="target_steps"):
        get_reward("reasoning_steps", target_steps=0)


CODE_OK = "<think>\nplan\n</think>\n<answer>\n```python\nprint(1)\n```\n</answer>"


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        (CODE_OK, {}, 1.0),
        ("<think>\nplan\n</think>\n<answer>\nprint(1)\n</answer>", {}, 0.0),  # no fenced block
        ("<think>\nplan\n</think>\n<answer>\n```cpp\nint x;\n```\n</answer>", {}, 0.0),  # another language
        ("<think>\nplan\n</think>\n<answer>\n```cpp\nint x;\n```\n</answer>", {"language": "cpp"}, 1.0),
        ("<think>\n```python\nx=1\n```\n</think>\n<answer>\n42\n</answer>", {}, 0.0),  # code only in the thought
        ("```python\nprint(1)\n```", {}, 0.0),  # no tags
        ("<answer>\n```python\nprint(1)\n```\n</answer>", {}, 0.0),  # no thought
        ("<think>r</think>\n```python\nprint(1)\n```", {"style": "think"}, 1.0),
        ("<think>r</think>\n```python\nprint(1)", {"style": "think"}, 0.0),  # the block never closes
        ("plan\n</think>\n<answer>\n```python\nprint(1)\n```\n</answer>", {"prefilled_think": True}, 1.0),
    ],
)
def test_code_format(text, kwargs, expected):
    assert get_reward("code_format", **kwargs)([text]) == [expected]


def test_code_format_bad_parameters():
    with pytest.raises(R1Error, match="unknown style"):
        get_reward("code_format", style="xml")
    with pytest.raises(R1Error, match="fence tag"):
        get_reward("code_format", language="py thon")
