"""Multiple-choice handling: seeded shuffle, record normalisation, letter extraction."""

from __future__ import annotations

import pytest

from r1cli.errors import R1Error
from r1cli.eval.gpqa import extract_letter, format_question, normalize_record, shuffle_options

RAW = {"Record ID": "rec1", "Question": "Which is a noble gas?", "Correct Answer": "Neon",
       "Incorrect Answer 1": "Oxygen", "Incorrect Answer 2": "Iron", "Incorrect Answer 3": "Sodium"}


def test_shuffle_is_fixed_per_id_and_keeps_the_gold():
    a = shuffle_options("Neon", ["Oxygen", "Iron", "Sodium"], "rec1")
    b = shuffle_options("Neon", ["Oxygen", "Iron", "Sodium"], "rec1")
    assert a == b  # same (seed, id) -> same order, in any process
    options, letter = a
    assert sorted(options) == ["Iron", "Neon", "Oxygen", "Sodium"]
    assert options["ABCD".index(letter)] == "Neon"


def test_shuffle_spreads_the_gold_over_letters():
    letters = {shuffle_options("x", ["a", "b", "c"], f"id{i}")[1] for i in range(40)}
    # 40 ids, 4 positions: P(one letter never drawn) <= 4 * (3/4)^40 ~ 4e-5
    assert letters == {"A", "B", "C", "D"}
    # another seed gives another order for some id (24 orders; 10 ids all equal has odds 24^-10)
    assert any(shuffle_options("x", ["a", "b", "c"], f"id{i}", seed=0)
               != shuffle_options("x", ["a", "b", "c"], f"id{i}", seed=1) for i in range(10))


def test_normalize_raw_hub_row():
    rec = normalize_record(RAW)
    assert rec["id"] == "rec1" and rec["problem"] == "Which is a noble gas?"
    assert rec["choices"][("ABCD").index(rec["answer"])] == "Neon"
    assert rec["answer_text"] == "Neon"


def test_normalize_choices_form_keeps_order():
    rec = normalize_record({"id": "q", "problem": "2+2?", "choices": ["3", "4", "5", "6"], "answer": "b"})
    assert rec["answer"] == "B" and rec["choices"] == ["3", "4", "5", "6"]
    assert normalize_record({"id": "q", "problem": "2+2?", "choices": ["3", "4"], "answer": 1})["answer"] == "B"


def test_normalize_errors_are_one_line():
    with pytest.raises(R1Error, match="no answer options"):
        normalize_record({"id": "q", "problem": "?"})
    with pytest.raises(R1Error, match="letter or an index"):
        normalize_record({"id": "q", "problem": "?", "choices": ["a", "b"], "answer": "Z"})


def test_format_question_lists_options():
    text = format_question({"problem": "Q?", "choices": ["x", "y", "z", "w"]})
    assert text == "Q?\n\nA) x\nB) y\nC) z\nD) w"


@pytest.mark.parametrize("text,expected", [
    ("<think>maybe \\boxed{A}</think> so \\boxed{C}", "C"),
    ("\\boxed{(B)}", "B"),
    ("\\boxed{\\text{D}}", "D"),
    ("\\boxed{Neon}", "B"),            # the exact text of option B
    ("I think. Answer: D", "D"),
    ("The answer is (A).", "A"),
    ("\\boxed{E}", None),              # only 4 options
    ("no idea", None),
    ("<think>Answer: A</think>nothing after", None),  # thinking is not the answer
])
def test_extract_letter(text, expected):
    assert extract_letter(text, ["Oxygen", "Neon", "Iron", "Sodium"]) == expected
