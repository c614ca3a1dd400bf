"""The grading rules a user relies on (README, "Grading rules"): multi-part answers, final-answer
statements, Unicode normalisation, the one extractor, and the exact-number fast path."""

from __future__ import annotations

import pytest

from r1cli.rewards import get_reward
from r1cli.rewards.extract import boxed_answer, final_statement, normalize_unicode, split_answer, top_boxes
from r1cli.rewards.mathgrade import exact_number, fast_grade, gold_parts
from r1cli.tasks import extract_boxed, get_task


def acc(gold: str, text: str, **kwargs) -> float | None:
    return get_reward("accuracy", workers=1, cache=False, **kwargs)([text], answer=[gold])[0]


# --- 1. multi-part answers ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("gold", "text", "expected"),
    [
        ("-2, 1", "\\boxed{-2} and \\boxed{1}", 1.0),
        ("-2, 1", "\\boxed{1} and \\boxed{-2}", 1.0),  # a list of solutions is a set
        ("-2 and 1", "$\\boxed{1}$ or $\\boxed{-2}$", 1.0),
        ("\\{1,2,3\\}", "\\boxed{1}, \\boxed{2}, \\boxed{3}", 1.0),
        ("1, 2, 3", "\\boxed{3}, \\boxed{1}, \\boxed{2}", 1.0),
        ("1, 2, 3", "\\boxed{1}, \\boxed{2}", 0.0),  # a part missing
        ("1, 2", "\\boxed{1}, \\boxed{1}", 0.0),  # each gold part needs its own box
        ("1, 2", "\\boxed{1}, \\boxed{2}, \\boxed{3}", 0.0),  # a hedge
        ("(1, 2)", "\\boxed{1}, \\boxed{2}", 1.0),  # an ordered pair: in order
        ("(1, 2)", "\\boxed{2}, \\boxed{1}", 0.0),
        ("(-\\infty, 0) \\cup (1, \\infty)", "\\boxed{(1, \\infty)} and \\boxed{(-\\infty, 0)}", 1.0),
        ("3", "\\boxed{3}, \\boxed{4}", 0.0),  # hedging earns nothing
        ("3", "\\boxed{4}, \\boxed{3}", 0.0),
        ("3", "\\boxed{1} so far. Wait, that is wrong: \\boxed{3}", 1.0),  # a corrected box: the last wins
        ("1", "\\boxed{1} so far. Wait, that is wrong: \\boxed{3}", 0.0),
        ("\\frac{1}{2}, 3", "\\boxed{\\frac{1}{2}} and \\boxed{3}", 1.0),  # parts graded by math-verify
    ],
)
def test_multi_part_answers(gold, text, expected):
    assert acc(gold, text) == expected


def test_multi_part_location():
    assert split_answer("\\boxed{-2} and \\boxed{1}") == ("boxes", ("-2", "1"))
    assert split_answer("\\boxed{1}, \\boxed{2}, \\boxed{3}.") == ("boxes", ("1", "2", "3"))
    assert split_answer("\\boxed{a} \\quad \\boxed{b}") == ("boxes", ("a", "b"))
    assert split_answer("\\boxed{1} then we check \\boxed{2}") == ("boxed", "2")  # words are not joiners
    assert split_answer("<think>\\boxed{1},</think> \\boxed{2}") == ("boxed", "2")  # the thought never counts
    assert split_answer("\\boxed{1}, \\boxed{}") is None  # an empty part is no answer


@pytest.mark.parametrize(
    ("gold", "expected"),
    [
        ("7", None),
        ("1,234", None),  # thousands separator, one number
        ("1, 2", ("set", ["1", "2"])),
        ("\\{1, 2\\}", ("set", ["1", "2"])),
        ("-2 and 1", ("set", ["-2", "1"])),
        ("x = 1 \\text{ or } x = 2", ("set", ["x = 1", "x = 2"])),
        ("(1, 2)", ("ordered", ["1", "2"])),
        ("$\\left(3, -1\\right)$", ("ordered", ["3", "-1"])),
        ("(0, 1) \\cup (2, 3)", ("set", ["(0, 1)", "(2, 3)"])),
        ("\\frac{1}{2}", None),
        ("f(x, y)", None),
    ],
)
def test_gold_parts(gold, expected):
    assert gold_parts(gold) == expected


# --- 2. final-answer statements -------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("So \\boxed{5} is one step. Therefore, the final answer is 12.", ("answer", "12")),
        ("\\boxed{5}\n\n**Final Answer:** $-3$.", ("answer", "-3")),
        ("\\boxed{5}. The answer is \\frac{1}{2}", ("answer", "\\frac{1}{2}")),
        ("The final answer is 12. So \\boxed{5}", ("boxed", "5")),  # a statement before the box: the box
        ("\\boxed{5}. The answer is below.", ("boxed", "5")),  # states no number: the box stands
        ("\\boxed{5} and the answer is five", ("boxed", "5")),
    ],
)
def test_final_statement_after_the_last_box_overrides_it(text, expected):
    assert split_answer(text) == expected


def test_final_statement_grading_both_directions():
    statement_after = "First \\boxed{5} for the first part. Therefore, the final answer is 12."
    assert acc("12", statement_after) == 1.0 and acc("5", statement_after) == 0.0
    statement_before = "The final answer is 12, or so I thought. Correcting: \\boxed{5}"
    assert acc("5", statement_before) == 1.0 and acc("12", statement_before) == 0.0
    assert final_statement("Thus the answer is: 7.") == "7"
    assert final_statement("nothing stated") is None


# --- 3. Unicode -------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("\\boxed{７}", "\\boxed{7}"),  # full-width
        ("\u2212" + "3", "-3"),  # the Unicode minus sign
        ("1\u202f000", "1 000"),  # narrow no-break space
        ("1\u00a0000", "1 000"),  # no-break space
        ("1\u2009/\u20092", "1 / 2"),  # thin spaces
        ("٣", "3"),  # Arabic-Indic digit
        ("७", "7"),  # Devanagari digit
        ("１２．５", "12.5"),
        ("x\u200b=\u200b1", "x=1"),  # zero-width spaces dropped
        ("加 6+4=10 ½ é", "加 6+4=10 ½ é"),  # letters, CJK and vulgar fractions untouched
    ],
)
def test_normalize_unicode(raw, normal):
    assert normalize_unicode(raw) == normal


def test_unicode_answers_grade_like_ascii():
    assert acc("7", "\\boxed{７}") == 1.0
    assert acc("-3", "\\boxed{\u22123}") == 1.0
    assert acc("\u22123", "\\boxed{-3}") == 1.0  # the gold is normalised too
    assert acc("12", "\\boxed{１２}") == 1.0
    assert acc("12", "\\boxed{١٢}") == 1.0
    assert acc("7", "\\boxed{８}") == 0.0


# --- 4. one extractor ---------------------------------------------------------------------------------

TRUNCATED = "\\boxed{12} then \\boxed{1"


def test_one_extractor_for_rewards_eval_and_tasks():
    # the decided rule: a completion cut off inside its last box has no answer (the earlier box was an
    # intermediate result); every consumer agrees
    assert split_answer(TRUNCATED) is None
    assert boxed_answer(TRUNCATED) is None
    assert extract_boxed(TRUNCATED) is None
    from r1cli.rewards.accuracy import extract_answer

    assert extract_answer(TRUNCATED) is None
    assert acc("12", TRUNCATED) == 0.0
    assert get_task("arith").check(TRUNCATED, {"answer": "12"}) is False
    complete = "<think>\\boxed{3}</think> so \\boxed{12}"
    assert split_answer(complete) == ("boxed", "12") and extract_boxed(complete) == "12" == extract_answer(complete)
    assert get_task("arith").check(complete, {"answer": "12"}) is True


def test_top_boxes():
    assert top_boxes("\\boxed{1}, \\boxed{\\boxed{2}}") == [(0, 9, "1"), (11, 28, "\\boxed{2}")]
    assert top_boxes("\\boxed{\\{1\\}} \\boxed{2") == [(0, 13, "\\{1\\}"), (14, 22, None)]


# --- 6. the fast path: exact arithmetic, the math-verify verdict ------------------------------------

@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12", (12, False)),
        ("-7", (-7, False)),
        ("+5", (5, False)),
        ("0.25", (0.25, True)),
        (".5", (0.5, True)),
        ("3/4", (0.75, False)),
        ("\\frac{3}{4}", (0.75, False)),
        ("-\\dfrac{3}{4}", (-0.75, False)),
        ("\\tfrac{-3}{4}", (-0.75, False)),
        ("$7$", (7, False)),
        ("1/0", None),
        ("1,000", None),
        ("2\\sqrt{3}", None),
        ("x=3", None),
        ("0.1234567", None),  # finer than math-verify's 6-place rounding
        ("\\frac12", None),
    ],
)
def test_exact_number(text, value):
    got = exact_number(text)
    assert (got if got is None else (float(got[0]), got[1])) == value


@pytest.mark.parametrize(
    ("gold", "payload", "verdict"),
    [
        ("12", "12", 1.0),
        ("12", "13", 0.0),
        ("12", "12.0", 1.0),
        ("\\frac{1}{2}", "0.5", 1.0),
        ("0.5", "1/2", 1.0),
        ("-\\frac{3}{4}", "-0.75", 1.0),
        ("1/3", "0.333333", None),  # decimal against a non-terminating fraction: math-verify decides
        ("1/3", "\\frac{2}{6}", 1.0),
        ("12", "x = 12", None),
        ("2\\sqrt{3}", "2\\sqrt{3}", None),
    ],
)
def test_fast_grade(gold, payload, verdict):
    assert fast_grade(gold, "boxed", payload) == verdict


FAST_CASES = [  # (gold, completion): every pair here has the same verdict with and without the fast path
    ("12", "\\boxed{12}"), ("12", "\\boxed{13}"), ("12", "\\boxed{12.0}"), ("-4", "\\boxed{-4}"),
    ("\\frac{1}{2}", "\\boxed{0.5}"), ("0.5", "\\boxed{\\frac{1}{2}}"), ("\\frac{3}{4}", "\\boxed{3/4}"),
    ("\\frac{3}{4}", "\\boxed{\\frac{6}{8}}"), ("\\frac{3}{4}", "\\boxed{\\frac{4}{3}}"), ("0", "\\boxed{-0}"),
    ("100", "\\boxed{100.000}"), ("2.5", "\\boxed{2.50}"), ("2.5", "\\boxed{\\frac{5}{2}}"), ("7", "\\boxed{+7}"),
    ("-\\frac{1}{8}", "\\boxed{-0.125}"), ("1/8", "\\boxed{0.13}"), ("42", "<answer>42</answer>"),
]


def test_fast_path_gives_math_verify_verdicts():
    golds = [g for g, _ in FAST_CASES]
    texts = [t for _, t in FAST_CASES]
    fast = get_reward("accuracy", workers=1, cache=False)(texts, answer=golds)
    slow = get_reward("accuracy", workers=1, cache=False, fast=False)(texts, answer=golds)
    assert fast == slow
    assert fast.count(1.0) == 14 and fast.count(0.0) == 3


def test_a_statement_is_its_math_span_or_its_sentence():
    assert final_statement("so the final answer is $-3$, as shown above") == "-3"
    assert final_statement("The answer is 12. Then we check it again twice.") == "12"
    assert final_statement("The answer is 3.5 exactly.") == "3.5 exactly"
    long = "The answer is " + "we add the two numbers and keep going with more words " * 3 + "7."
    assert final_statement(long) is None  # a paragraph of prose is not a final-answer statement
    assert split_answer("\\boxed{16386.20} The answer is that the sum, " + "which is large, " * 10 + "t.") == (
        "boxed", "16386.20")


def test_a_gold_written_as_a_solution_splits_at_its_box():
    gold = "We factor: (x-1)(x+2) = 0, so x = 1, or x = -2. Hence $\\boxed{1,-2}$."
    assert gold_parts(gold) == ("set", ["1", "-2"])
    assert acc(gold, "\\boxed{-2} and \\boxed{1}") == 1.0


@pytest.mark.parametrize(("gold", "text", "expected"), [
    ("$\\frac{1}{3}$", "The answer is $\\frac{1}{3}.$", 1.0),  # a full stop inside the math
    ("$\\frac{1}{3}$", "\\[\\frac{1}{3},\\]", 1.0),
    ("$(1,2)$", "so $(1,2).$", 1.0),
    ("$2$", "$2^{10}.$", 0.0),  # math-verify alone reads this as 2
    ("$1$", "The answer is $1/3.$", 0.0),
])
def test_sentence_punctuation_inside_unboxed_math(gold, text, expected):
    assert acc(gold, text) == expected


def test_upright_e_is_eulers_number():
    assert acc("$1 - \\frac{1}{\\mathrm{e}}$", "\\boxed{1 + \\frac{1}{\\mathrm{e}}}") == 0.0  # math-verify alone: 1 = 1
    assert acc("$1 - \\frac{1}{\\mathrm{e}}$", "\\boxed{1 - \\frac{1}{e}}") == 1.0
