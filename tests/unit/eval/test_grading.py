"""Grading and metrics of sample records, with expected values computed by hand."""

from __future__ import annotations

import pytest

from r1cli.eval.grading import compute_metrics, grade_records, maj_curve
from r1cli.eval.registry import get_benchmark


def _rec(pid, answer, texts, finish=None, **cols):
    finish = finish or ["stop"] * len(texts)
    return {"id": pid, "problem": f"p{pid}", "answer": answer, **cols,
            "samples": [{"text": t, "finish_reason": f, "num_tokens": 10 * (i + 1)}
                        for i, (t, f) in enumerate(zip(texts, finish, strict=True))]}


def test_math_grading_and_metrics():
    bench = get_benchmark("math500")
    recs = [
        # p1: correct, wrong 7, correct as 0.5, no answer (truncated) -> c = 2
        _rec("1", "\\frac{1}{2}", ["\\boxed{\\frac12}", "\\boxed{7}", "so \\boxed{0.5}", "hmm"],
             ["stop", "stop", "stop", "length"]),
        # p2: 5, 6, 6, 7 against gold 5 -> c = 1
        _rec("2", "5", ["\\boxed{5}", "\\boxed{6}", "\\boxed{6}", "\\boxed{7}"]),
        # p3: all correct -> c = 4
        _rec("3", "3", ["\\boxed{3}"] * 4),
    ]
    grade_records(bench, recs)
    assert [s["correct"] for s in recs[0]["samples"]] == [True, False, True, False]
    assert [s["extracted"] for s in recs[0]["samples"]] == ["\\frac12", "7", "0.5", None]
    m = compute_metrics(bench, recs, 4)
    # pass@1 = mean(2/4, 1/4, 4/4) = 1.75/3 = 0.583333
    assert m["pass@1"] == pytest.approx(0.583333, abs=1e-6)
    # scores 0.5, 0.25, 1; mean 0.583333; squared deviations 0.006944 + 0.111111 + 0.173611 = 0.291667;
    # var = 0.291667 / 2 = 0.145833; stderr = sqrt(0.145833) / sqrt(3) = 0.381881 / 1.732051 = 0.220479
    assert m["pass@1_stderr"] == pytest.approx(0.220479, abs=1e-6)
    # pass@2: p1 1 - C(2,2)/C(4,2) = 5/6; p2 1 - C(3,2)/C(4,2) = 1/2; p3 1 -> (0.833333 + 0.5 + 1)/3 = 0.777778
    # pass@4: n - c < 4 for p1, p2, p3 -> 1
    assert m["pass@k"] == pytest.approx({"1": 0.583333, "2": 0.777778, "4": 1.0}, abs=1e-6)
    # maj@1: p1 1/2 ok, p2 5 ok, p3 ok -> 1.
    # maj@2: p1 [1/2, 7] tie -> earliest (1/2) ok; p2 [5, 6] tie -> 5 ok; p3 ok -> 1.
    # maj@4: p1 {1/2, 0.5} = 2 votes vs 7 -> ok; p2 6 has 2 votes -> wrong; p3 ok -> 2/3
    assert m["maj@k"] == pytest.approx({"1": 1.0, "2": 1.0, "4": 2 / 3}, abs=1e-6)
    assert m["truncated_rate"] == pytest.approx(1 / 12)  # one "length" of 12 samples
    assert m["no_answer_rate"] == pytest.approx(1 / 12)  # "hmm"
    assert m["mean_tokens"] == pytest.approx(25.0)  # every problem: 10, 20, 30, 40 -> 25


def test_unparseable_gold_counts_as_wrong():
    bench = get_benchmark("math500")
    recs = grade_records(bench, [_rec("1", "", ["\\boxed{1}"])])
    assert recs[0]["samples"][0]["correct"] is None
    assert compute_metrics(bench, recs, 1)["pass@1"] == 0.0


def test_choice_grading():
    bench = get_benchmark("gpqa-diamond")
    choices = ["a", "b", "c", "d"]
    recs = [_rec("1", "B", ["\\boxed{B}", "\\boxed{A}", "Answer: B", "??"], choices=choices)]
    grade_records(bench, recs)
    assert [s["extracted"] for s in recs[0]["samples"]] == ["B", "A", "B", None]
    m = compute_metrics(bench, recs, 4)
    # c = 2 of 4; maj@2 [B, A] tie -> B (earliest) ok; maj@4 B 2 votes vs A 1 -> ok
    assert m["pass@1"] == 0.5 and m["maj@k"] == {"1": 1.0, "2": 1.0, "4": 1.0}
    assert m["pass@1_stderr"] is None  # one problem: undefined, not 0


def test_countdown_votes_group_all_correct_expressions():
    bench = get_benchmark("countdown")
    rec = _rec("1", "(7-3)*5", ["\\boxed{7*5-3*5}", "\\boxed{1+2}", "\\boxed{1+2}", "\\boxed{(7-3)*5}"],
               numbers=[7, 3, 5], target=20)
    grade_records(bench, [rec])
    # 7*5-3*5 uses 5 twice -> wrong; (7-3)*5 = 20 -> right
    assert [s["correct"] for s in rec["samples"]] == [False, False, False, True]
    rec2 = _rec("2", "(7-3)*5", ["\\boxed{(7-3)*5}", "\\boxed{5*(7-3)}", "\\boxed{1+2}", "\\boxed{1 + 2}"],
                numbers=[7, 3, 5], target=20)
    grade_records(bench, [rec2])
    # two different correct expressions form one cluster (2 votes) and tie with "1+2" (2 votes, same
    # text up to spaces); the correct cluster's first member came first -> maj@4 = 1
    assert maj_curve(bench, [rec2], 4) == {"1": 1.0, "2": 1.0, "4": 1.0}
    # rec: maj@4 "1+2" has 2 votes -> 0; maj@1 first answer wrong -> 0
    assert maj_curve(bench, [rec], 4) == {"1": 0.0, "2": 0.0, "4": 0.0}


def test_arith_checker():
    bench = get_benchmark("arith")
    rec = _rec("1", "39", ["\\boxed{39}", "\\boxed{ 39 }", "\\boxed{40}", "none"])
    grade_records(bench, [rec])
    assert [s["correct"] for s in rec["samples"]] == [True, True, False, False]
    assert compute_metrics(bench, [rec], 4)["pass@1"] == 0.5
