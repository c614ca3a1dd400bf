"""Every distill filter on hand-built traces; language-consistency shares computed by hand."""

from __future__ import annotations

import pytest

from r1cli.distill.filters import (
    FILTERS,
    FilterSettings,
    assemble_trace,
    char_script,
    dominant_script,
    first_failure,
    foreign_share,
    graded_text,
    mark_duplicates,
    render_trace,
    script_counts,
    select_kept,
)

GOOD = "<think>\nTwo plus two is four.\n</think>\n\n\\boxed{4}"


def sample(text: str = GOOD, finish_reason: str = "stop", num_tokens: int | None = 10, **extra) -> dict:
    return {"text": text, "finish_reason": finish_reason, "num_tokens": num_tokens, **extra}


# ------------------------------------------------------------------------------------ think / format


def test_assemble_closed_think_block():
    assert assemble_trace(GOOD) == ("Two plus two is four.", "\\boxed{4}")
    assert render_trace("r", "a") == "<think>\nr\n</think>\n\na"


@pytest.mark.parametrize("text", [
    "Two plus two is four. \\boxed{4}",                        # never closes
    "<think>\nTwo plus two is four. \\boxed{4}",               # opened, never closed (truncated)
    "<think>a</think> b </think> c",                           # two closing tags
    "<think>a</think> b <think> c",                            # re-opens after the answer
    "<think>\n\n</think>\n\n\\boxed{4}",                       # empty reasoning
    "<think>\nfour\n</think>\n\n",                             # no answer after the block
    "<think><think>a</think> b",                               # two opening tags
])
def test_assemble_rejects_malformed(text):
    assert assemble_trace(text) is None


def test_missing_opening_tag_is_the_prefill_case():
    # R1's protocol prefills "<think>\n", so the reply starts inside the reasoning.
    text = "Two plus two is four.\n</think>\n\n\\boxed{4}"
    assert assemble_trace(text, missing_think="prepend") == ("Two plus two is four.", "\\boxed{4}")
    assert assemble_trace(text, missing_think="reject") is None


def test_text_before_think_is_dropped():
    assert assemble_trace("Sure.<think>r</think>a") == ("r", "a")


def test_separate_reasoning_like_reasoning_content():
    # The API returned the reasoning apart: closed iff there is an answer.
    assert assemble_trace("\\boxed{4}", "two plus two") == ("two plus two", "\\boxed{4}")
    assert assemble_trace("", "two plus two is") is None                 # truncated in the reasoning
    assert assemble_trace("x </think> y", "two") is None                  # tags in the content too
    assert graded_text("\\boxed{4}", "two") == "<think>\ntwo\n</think>\n\n\\boxed{4}"
    assert graded_text(GOOD, None) == GOOD


# --------------------------------------------------------------------------------- scripts / language


@pytest.mark.parametrize("ch,script", [
    ("a", "Latin"), ("Z", "Latin"), ("é", "Latin"), ("Ａ", "Latin"),      # full-width A is Latin
    ("π", "Greek"), ("д", "Cyrillic"), ("计", "CJK"), ("あ", "CJK"), ("カ", "CJK"), ("한", "Hangul"),
    ("7", None), (" ", None), ("+", None), ("𝑥", None), ("ℝ", None),       # digits, symbols, math letters
])
def test_char_script(ch, script):
    assert char_script(ch) == script


def test_foreign_share_english_with_two_chinese_characters():
    # Latin letters: Two(3) plus(4) two(3) is(2) four(4) = 16; CJK: 所以 = 2 -> 2 / 18 = 0.1111
    text = "Two plus two is four. 所以"
    assert script_counts(text) == {"Latin": 16, "CJK": 2}
    assert foreign_share(text, "Latin") == pytest.approx(2 / 18)
    assert foreign_share(text, "CJK") == pytest.approx(16 / 18)


def test_foreign_share_chinese_problem_english_reasoning():
    # reasoning + answer: CJK 我们计算 (4) + 答案是 (3) = 7; Latin So(2) the(3) answer(6) is(2) = 13
    # -> 13 foreign of 20 letters = 0.65. The problem 计算等于多少 is CJK.
    problem = "计算 1+2 等于多少?"
    text = "我们计算 1+2=3. So the answer is 3.\n答案是 $3$"
    assert dominant_script(problem) == "CJK"
    assert foreign_share(text, "CJK") == pytest.approx(13 / 20)


def test_math_code_and_latex_are_not_language():
    # "$x+y$" and "\frac" are notation; only 设 and 为 are letters -> no foreign letters.
    assert script_counts("设 $x+y$ 为 \\frac{1}{2}") == {"CJK": 2}
    assert foreign_share("设 $x+y$ 为 \\frac{1}{2}", "CJK") == 0.0
    # the think tags and a code block do not count either: 2 CJK letters, nothing else
    assert script_counts("<think>好的</think>\n```python\nprint(x)\n```") == {"CJK": 2}


def test_allowed_scripts_and_no_letters():
    # the(3) angle(5) = 8 Latin, θ = 1 Greek -> 1 / 9; Greek allowed -> 0
    assert foreign_share("the angle θ", "Latin") == pytest.approx(1 / 9)
    assert foreign_share("the angle θ", "latin", ("greek",)) == 0.0
    assert foreign_share("12 + 34 = 46", "Latin") == 0.0
    assert dominant_script("12 + 34 = ?", default="Cyrillic") == "Cyrillic"


# -------------------------------------------------------------------------------------------- chain


def test_each_filter_rejects_its_case_and_order_is_fixed():
    s = FilterSettings(max_tokens=100, max_foreign_share=0.1)
    problem = "What is 2 + 2?"
    assert first_failure(sample(), problem, 1.0, s) is None
    assert first_failure(sample(finish_reason="length"), problem, 1.0, s) == "finish_reason"
    assert first_failure(sample(text="Two plus two is four. \\boxed{4}"), problem, 1.0, s) == "think"
    assert first_failure(sample(num_tokens=101), problem, 1.0, s) == "max_tokens"
    assert first_failure(sample(num_tokens=100), problem, 1.0, s) is None        # the limit is inclusive
    assert first_failure(sample(num_tokens=None), problem, 1.0, s) == "max_tokens"  # unknown length
    mixed = "<think>\nTwo plus two is four. 所以\n</think>\n\n\\boxed{4}"        # 2/18 = 0.111 > 0.1
    assert first_failure(sample(text=mixed), problem, 1.0, s) == "language"
    assert first_failure(sample(), problem, None, s) == "unverifiable"
    assert first_failure(sample(), problem, 0.0, s) == "reward"
    # a truncated, wrong, unclosed trace is counted once, by the first filter in FILTERS order
    assert first_failure(sample(text="Two", finish_reason="length"), problem, 0.0, s) == "finish_reason"
    assert FILTERS[0] == "finish_reason" and FILTERS[-2:] == ("reward", "duplicate")


def test_filters_can_be_turned_off_or_loosened():
    mixed = "<think>\nTwo plus two is four. 所以\n</think>\n\n\\boxed{4}"
    loose = FilterSettings(require_stop=False, max_tokens=None, max_foreign_share=0.2, min_reward=0.5)
    assert first_failure(sample(finish_reason="length", num_tokens=None), "What?", 1.0, loose) is None
    assert first_failure(sample(text=mixed), "What?", 1.0, loose) is None       # 0.111 <= 0.2
    assert first_failure(sample(), "What?", 0.5, loose) is None                   # reward 0.5 >= 0.5
    off = FilterSettings(max_foreign_share=None)
    assert first_failure(sample(text=mixed.replace("所以", "所以所以所以")), "What?", 1.0, off) is None


def test_language_is_measured_against_the_problem_script():
    s = FilterSettings()
    zh = "<think>\n我们计算 1+2=3. So the answer is 3.\n</think>\n\n答案是 $3$"  # 13/20 foreign vs CJK
    assert first_failure(sample(text=zh), "计算 1+2 等于多少?", 1.0, s) == "language"
    pure = "<think>\n我们计算 1+2=3\n</think>\n\n答案是 $3$"
    assert first_failure(sample(text=pure), "计算 1+2 等于多少?", 1.0, s) is None


def test_duplicates_and_keep():
    assert mark_duplicates([None, None, "reward", None], ["a", "a", None, "b"]) == [None, "duplicate", "reward", None]
    assert select_kept([None, "reward", None, None], 2) == [0, 2]
    assert select_kept(["reward", "think"], 3) == []
    assert select_kept([None, None], 5) == [0, 1]


def test_paragraph_and_code_filters_look_at_the_reasoning_only():
    from r1cli.distill.filters import has_code_block, longest_paragraph

    assert longest_paragraph("one\ntwo\n\nthree") == 7  # "one\ntwo"
    assert longest_paragraph("a\n  \nbbbb") == 4  # a line of spaces is a blank line
    assert longest_paragraph("") == 0
    assert has_code_block("text\n```python\nx = 1\n```") and has_code_block("  ~~~\ncode\n~~~")
    assert not has_code_block("inline `x = 1` is not a block")
    s = FilterSettings(max_paragraph_chars=30, drop_code_blocks=True)
    problem = "What is 2 + 2?"
    assert first_failure(sample(), problem, 1.0, s) is None  # "Two plus two is four." is 21 characters
    long = "<think>\nTwo plus two is four, and four is even.\n</think>\n\n\\boxed{4}"  # 40 characters
    assert first_failure(sample(text=long), problem, 1.0, s) == "paragraph"
    split = "<think>\nTwo plus two is four,\n\nand four is even.\n</think>\n\n\\boxed{4}"  # 20 and 17
    assert first_failure(sample(text=split), problem, 1.0, s) is None
    code = "<think>\nCompute:\n\n```python\nprint(2 + 2)\n```\n</think>\n\n\\boxed{4}"  # paragraphs 8, 25
    assert first_failure(sample(text=code), problem, 1.0, s) == "code"
    answer_code = "<think>\nTwo plus two.\n</think>\n\n```\n4\n```\n\\boxed{4}"  # a block in the answer is kept
    assert first_failure(sample(text=answer_code), problem, 1.0, s) is None
    assert first_failure(sample(text=code), problem, 1.0, FilterSettings()) is None  # both are off by default
    assert first_failure(sample(text=code), problem, 0.0, s) == "code"  # counted before the reward
    assert FILTERS.index("language") < FILTERS.index("paragraph") < FILTERS.index("code") < FILTERS.index("reward")
