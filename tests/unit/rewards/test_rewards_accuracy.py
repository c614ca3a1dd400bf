"""accuracy/acc: math-verify with the false negatives fixed, pooled, with a hard wall clock.

Expected verdicts are the mathematical truth of each pair (1.0 equal, 0.0 not), not whatever a
grader returned; the comments say why each row is a known trap.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from r1cli.errors import R1Error
from r1cli.rewards import answers_equivalent, cluster_answers, extract_answer, extract_answers, get_reward
from r1cli.rewards.pool import pool_stats

SELF_CORRECTING = (
    "<think>Try x=1, so \\boxed{1}. Wait, that fails the second equation.</think>\n"
    "First I got \\boxed{1}, but checking again the answer is \\boxed{2}."
)

CASES = [
    # (completion, gold, expected)
    (SELF_CORRECTING, "2", 1.0),  # several boxes: only the last one counts
    (SELF_CORRECTING, "1", 0.0),
    ("<think>\\boxed{5}</think> The answer is 7.", "7", 1.0),  # boxes inside the reasoning are dropped
    ("<think>\\boxed{5}</think> The answer is 7.", "5", 0.0),
    ("<answer>7</answer>", "7", 1.0),  # a tag is not a math environment: re-wrapped as a box
    ("<answer>x = 12</answer>", "12", 1.0),
    ("<answer>The answer is 12</answer>", "12", 1.0),
    ("<answer>\\boxed{12}</answer> \\boxed{13}", "12", 1.0),  # the answer block wins over later text
    ("\\boxed{\\frac{9}{7}}", "\\dfrac{9}{7}", 1.0),  # bare gold: unparsed without wrapping
    ("\\boxed{9/7}", "\\dfrac{9}{7}", 1.0),
    ("\\boxed{\\frac97}", "\\dfrac{9}{7}", 1.0),  # malformed \frac97 is still 9/7
    ("\\boxed{1.2857}", "\\dfrac{9}{7}", 0.0),  # 9/7 = 1.285714..., not 1.2857
    ("\\boxed{3}", "3\\sqrt{13}", 0.0),  # a bare gold 3\sqrt{13} would parse as 3 (false positive)
    ("\\boxed{3\\sqrt{13}}", "3\\sqrt{13}", 1.0),
    ("\\boxed{\\sqrt{117}}", "3\\sqrt{13}", 1.0),  # 3*sqrt(13) = sqrt(9*13) = sqrt(117)
    ("\\boxed{004}", "4", 1.0),  # leading zeros (AIME)
    ("\\boxed{14916}", "14{,}916", 1.0),  # {,} thousands separator
    ("\\boxed{14{,}916}", "14916", 1.0),
    ("\\boxed{7425000}", "7,425,000", 1.0),
    ("\\boxed{7,425}", "7,425,000", 0.0),
    ("\\boxed{0.28}", "28\\%", 1.0),  # 28% = 28/100 = 0.28
    ("\\boxed{28\\%}", "0.28", 1.0),
    ("\\boxed{125}", "125\\textnormal{ miles}", 1.0),  # units dropped
    ("\\boxed{126}", "125\\textnormal{ miles}", 0.0),
    ("\\boxed{18.9}", "\\$18.90", 1.0),  # currency \$ is not an environment
    ("\\boxed{\\$18.90}", "\\$18.90", 1.0),
    ("\\boxed{19}", "\\$18.90", 0.0),
    ("\\boxed{(1,2]}", "(1,2]", 1.0),  # intervals: endpoints and openness
    ("\\boxed{(1,2)}", "(1,2]", 0.0),
    ("\\boxed{x \\in [-2,7]}", "[-2,7]", 1.0),
    ("\\boxed{(3, \\frac{\\pi}{2})}", "\\left( 3, \\frac{\\pi}{2} \\right)", 1.0),  # ordered tuple
    ("\\boxed{(\\frac{\\pi}{2}, 3)}", "\\left( 3, \\frac{\\pi}{2} \\right)", 0.0),  # order matters
    ("\\boxed{\\{3,2,1\\}}", "\\{1,2,3\\}", 1.0),  # sets: order does not matter
    ("\\boxed{\\{1,2\\}}", "\\{1,2,3\\}", 0.0),
    ("\\boxed{\\text{Evelyn}}", "\\text{Evelyn}", 1.0),  # text answers
    ("\\boxed{\\text{Bob}}", "\\text{Evelyn}", 0.0),
    ("\\boxed{C}", "\\text{(C)}", 1.0),
    ("\\boxed{B}", "\\text{(C)}", 0.0),
    ("<think>so 14/3 = \\boxed{\\frac{14}{3}", "\\frac{14}{3}", 0.0),  # cut off inside its box: no answer
    ("no answer at all", "3", 0.0),
    ("\\boxed{}", "3", 0.0),
]


@pytest.fixture(scope="module")
def acc():
    return get_reward("acc")


@pytest.fixture(scope="module")
def table_verdicts(acc):
    """All CASES graded in one call (so the pool works on them in parallel)."""
    return acc([c for c, _, _ in CASES], answer=[g for _, g, _ in CASES])


@pytest.mark.parametrize("i", range(len(CASES)), ids=[f"{g}|{c[-24:]}" for c, g, _ in CASES])
def test_accuracy_table(table_verdicts, i):
    completion, gold, expected = CASES[i]
    assert table_verdicts[i] == expected, (completion, gold)


@pytest.mark.parametrize("gold", ["\\text{}", "$$", "", None])
def test_unparseable_or_missing_gold_is_none(acc, gold):
    assert acc(["\\boxed{3}", "no answer"], answer=[gold, gold]) == [None, None]


def test_columns_it_does_not_use_are_ignored(acc):
    # chat-format completions and unrelated columns (numbers, tests, completion_ids) ride along
    got = acc(
        [[{"role": "assistant", "content": "\\boxed{4}"}]],
        answer=["4"],
        numbers=[[1]],
        tests=[None],
        completion_ids=[[1, 2]],
    )
    assert got == [1.0]


def test_missing_or_misaligned_answer_column_is_a_user_error(acc):
    with pytest.raises(R1Error, match="needs the column 'answer'"):
        acc(["\\boxed{1}"])
    with pytest.raises(R1Error, match="has 1 values for 2 completions"):
        acc(["\\boxed{1}", "\\boxed{2}"], answer=["1"])


def test_pathological_power_times_out_within_the_bound_and_is_counted():
    acc = get_reward("accuracy", timeout_s=1.0, cache=False)
    start = time.monotonic()
    got = acc(["\\boxed{5^{5^{5^{5^5}}}}", "\\boxed{3}"], answer=["3", "3"])
    elapsed = time.monotonic() - start
    assert got == [0.0, 1.0]  # the wedged item scores 0, the other is still graded
    assert acc.last_timeouts == 1 and acc.timeouts == 1
    # Not a speed check: without the pool this call never returns. 1 s limit + 0.5 s grace + a fork.
    assert elapsed < 20


def test_gold_with_nested_power_times_out_too():
    acc = get_reward("accuracy", timeout_s=1.0, cache=False)
    assert acc(["\\boxed{3}"], answer=["\\dfrac{5^{5^{5^{5^5}}}-5}{16}"]) == [0.0]
    assert acc.timeouts == 1


def test_pool_is_reused_across_calls(acc):
    acc(["\\boxed{1}"], answer=["1"])
    forks = pool_stats("math").forks
    acc(["\\boxed{2}", "\\boxed{3}"], answer=["2", "4"])
    assert pool_stats("math").forks == forks  # no new worker for a new call


def test_grading_from_a_worker_thread(acc):
    # math-verify's own signal.alarm raises outside the main thread; the pool does not care.
    out = {}
    thread = threading.Thread(
        target=lambda: out.setdefault("v", acc(["\\boxed{\\frac{1}{2}}"], answer=["0.5"]))
    )
    thread.start()
    thread.join(60)
    assert out["v"] == [1.0]


def test_reward_works_in_a_forked_child(acc):
    acc(["\\boxed{1}"], answer=["1"])  # the parent's pool exists now
    pid = os.fork()
    if pid == 0:  # the child must build its own pool, not talk to the parent's workers
        code = 1
        try:
            code = 0 if acc(["\\boxed{2}", "\\boxed{3}"], answer=["2", "2"]) == [1.0, 0.0] else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert acc(["\\boxed{4}"], answer=["4"]) == [1.0]  # and the parent's pool still works


def test_extract_answer():
    assert extract_answer("<think>\\boxed{3}</think> so \\boxed{5}") == "5"
    assert extract_answer("<answer>7</answer>") == "7"
    assert extract_answer("<answer>x = 12</answer>") == "x = 12"  # a formula is kept whole
    assert extract_answer("<answer>The answer is 12</answer>") == "12"  # prose: math-verify extracts
    assert extract_answer("<think>r</think> The answer is $\\frac{1}{2}$.") == "\\frac{1}{2}"
    assert extract_answer("<think>\\boxed{3}</think>") is None  # nothing after the reasoning
    assert extract_answers(["\\boxed{1}", "no digits here", ""]) == ["1", None, None]


def test_answers_equivalent_and_clusters():
    assert answers_equivalent("\\frac{1}{2}", "0.5") is True
    assert answers_equivalent("\\frac{1}{2}", "0.25") is False
    # 1/2, 0.5 and \frac{1}{2} are one cluster; 3 another; None does not vote
    assert cluster_answers(["1/2", "0.5", "3", None, "\\frac{1}{2}", "3"]) == [0, 0, 1, None, 0, 1]
