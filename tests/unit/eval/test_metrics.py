"""r1cli.eval.metrics: pass@k, pass@1 with stderr, curves, majority vote / maj@k, sample statistics."""

import math
from fractions import Fraction

import pytest

from r1cli.eval.metrics import (
    curve_ks,
    maj_at_k,
    maj_at_k_curve,
    majority_vote,
    mean_tokens,
    no_answer_rate,
    pass_at_1_with_stderr,
    pass_at_k,
    pass_at_k_curve,
    truncation_rate,
)


def exact_pass_at_k(n, c, k):
    """1 - C(n-c, k)/C(n, k) with exact integers (reference only)."""
    if n - c < k:
        return 1.0
    return float(1 - Fraction(math.comb(n - c, k), math.comb(n, k)))


@pytest.mark.parametrize(
    "n, c, k, expected",
    [
        (64, 16, 1, 0.25),  # k = 1 gives c/n = 16/64
        (16, 4, 8, 0.961538),  # 1 - C(12,8)/C(16,8) = 1 - 495/12870 = 1 - 0.038462
        (10, 3, 5, 0.916667),  # 1 - C(7,5)/C(10,5) = 1 - 21/252
        (20, 2, 10, 0.763158),  # 1 - C(18,10)/C(20,10) = 1 - 43758/184756 = 1 - 0.236842
        (64, 48, 4, 0.997136),  # 1 - C(16,4)/C(64,4) = 1 - 1820/635376
        (64, 1, 16, 0.25),  # c = 1 gives k/n = 16/64
        (8, 6, 3, 1.0),  # n - c = 2 < k = 3
        (5, 0, 1, 0.0),  # no correct sample
    ],
)
def test_pass_at_k_worked_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=5e-7)


def test_pass_at_k_exact_edges():
    assert pass_at_k(8, 6, 3) == 1.0
    assert pass_at_k(8, 8, 8) == 1.0
    assert pass_at_k(8, 0, 8) == 0.0
    assert pass_at_k(1, 1, 1) == 1.0


@pytest.mark.parametrize(
    "n, c, k",
    [(1024, 1, 1), (1024, 1, 16), (1024, 100, 64), (1024, 3, 500), (1024, 512, 256), (2048, 7, 1024)],
)
def test_pass_at_k_large_n_is_stable(n, c, k):
    # C(2048, 1024) ~ 1e615 does not even fit in a float; the product form needs no binomials
    got = pass_at_k(n, c, k)
    assert 0.0 <= got <= 1.0 and math.isfinite(got)
    assert got == pytest.approx(exact_pass_at_k(n, c, k), rel=1e-12, abs=1e-15)
    if c == 1:
        assert got == pytest.approx(k / n, rel=1e-12)  # e.g. 16 / 1024 = 0.015625


@pytest.mark.parametrize(
    "n, c, k, message",
    [
        (4, 1, 5, "k=5"),
        (4, 5, 1, "cannot exceed"),
        (4, 1, 0, "k must be"),
        (0, 0, 1, "n must be"),
        (4, -1, 1, "c must be"),
    ],
)
def test_pass_at_k_invalid(n, c, k, message):
    with pytest.raises(ValueError, match=message):
        pass_at_k(n, c, k)


def test_pass_at_1_with_stderr():
    # c = 16, 64, 0 of n = 64: scores .25, 1, 0 -> mean 1.25/3 = 0.416667
    # deviations -1/6, 7/12, -5/12; squares 1/36 + 49/144 + 25/144 = 78/144 = 0.541667
    # sample var 0.541667/2 = 0.270833, std 0.520416, stderr 0.520416/sqrt(3) = 0.300463
    mean, se = pass_at_1_with_stderr([16, 64, 0], 64)
    assert mean == pytest.approx(0.416667, abs=5e-7)
    assert se == pytest.approx(0.300463, abs=5e-7)
    # one problem: standard error undefined -> None
    assert pass_at_1_with_stderr([3], 4) == (0.75, None)
    # identical scores -> 0 spread
    assert pass_at_1_with_stderr([2, 2], 4) == (0.5, 0.0)
    with pytest.raises(ValueError, match=r"correct_counts\[1\]"):
        pass_at_1_with_stderr([1, 5], 4)
    with pytest.raises(ValueError, match="no problems"):
        pass_at_1_with_stderr([], 4)


def test_curve_ks():
    assert curve_ks(1) == [1]
    assert curve_ks(8) == [1, 2, 4, 8]
    assert curve_ks(6) == [1, 2, 4, 6]  # n itself added when it is not a power of two
    assert curve_ks(64) == [1, 2, 4, 8, 16, 32, 64]


def test_pass_at_k_curve():
    # n = 6, c = 1, 6, 0. pass@k for c=1 is k/6; c=6 always 1; c=0 always 0
    # k=1: (1/6 + 1 + 0)/3 = 7/18 ; k=2: (2/6 + 1)/3 = 4/9 ; k=4: (4/6 + 1)/3 = 5/9 ; k=6: (1 + 1)/3 = 2/3
    curve = pass_at_k_curve([1, 6, 0], 6)
    assert list(curve) == ["1", "2", "4", "6"]
    assert curve["1"] == pytest.approx(7 / 18)
    assert curve["2"] == pytest.approx(4 / 9)
    assert curve["4"] == pytest.approx(5 / 9)
    assert curve["6"] == pytest.approx(2 / 3)
    # pass@1 of the curve equals mean@n
    assert curve["1"] == pytest.approx(pass_at_1_with_stderr([1, 6, 0], 6)[0])


def numeric_equal(a: str, b: str) -> bool:
    """A stand-in for math-verify: '1/2' == '0.5' == '2/4'."""
    return Fraction(a) == Fraction(b)


def test_majority_vote_tie_goes_to_earliest_cluster():
    # [17, 17, 23, None, 23]: 2-2 tie, 17's first member (index 0) is earlier
    assert majority_vote(["17", "17", "23", None, "23"], numeric_equal) == "17"
    # [B, A, A, B] -> B (first member at index 0)
    assert majority_vote(["4", "3", "3", "4"], numeric_equal) == "4"
    # first vote comes after an unparsed sample: [None, 3, 4, 4, 3] -> 3
    assert majority_vote([None, "3", "4", "4", "3"], numeric_equal) == "3"


def test_majority_vote_clusters_by_equivalence_and_returns_first_member():
    # 1/2, 0.5, 2/4 are one cluster of 3 vs two 7s: the answer is the first member "1/2"
    assert majority_vote(["7", "1/2", "0.5", "7", "2/4"], numeric_equal) == "1/2"
    # string equality would have picked 7
    assert majority_vote(["7", "1/2", "0.5", "7", "2/4"], str.__eq__) == "7"


def test_majority_vote_no_votes():
    assert majority_vote([None, None], numeric_equal) is None
    assert majority_vote([], numeric_equal) is None


def test_equivalence_called_with_first_member_first():
    calls = []

    def eq(rep, ans):
        calls.append((rep, ans))
        return rep == ans

    majority_vote(["a", "b", "a"], eq)
    assert calls == [("a", "b"), ("a", "a")]


GOLDS = ["17", "5", "9", "1/2"]


def gold_correct(i: int, answer: str) -> bool:
    return numeric_equal(GOLDS[i], answer)


def test_maj_at_k_worked_values():
    answers = [
        ["17", "17", "23", None, "23"],  # tie -> 17 = gold: 1
        ["5", "6", "6", "7", "5"],  # first 4: 6 wins (2 vs 1 vs 1) -> 0 ; all 5: 5 vs 6 tie -> 5 (earlier): 1
        [None, None, None, None, None],  # no votes -> 0
        ["0.5", None, "3", "2/4", "3"],  # first 4: {0.5, 2/4} = 2 -> equal to 1/2: 1 ; 5: 2-2 tie -> 0.5: 1
    ]
    # maj@4: (1 + 0 + 0 + 1) / 4 = 0.5 ; maj@5: (1 + 1 + 0 + 1) / 4 = 0.75
    assert maj_at_k(answers, gold_correct, 4, numeric_equal) == pytest.approx(0.5)
    assert maj_at_k(answers, gold_correct, 5, numeric_equal) == pytest.approx(0.75)
    # maj@1 = first answer correct: 17 yes, 5 yes, None -> 0, 0.5 yes -> 3/4
    assert maj_at_k(answers, gold_correct, 1, numeric_equal) == pytest.approx(0.75)


def test_maj_at_k_reference_example():
    # maj@4 with answers [5, 6, 6, 7] and gold 5 scores 0
    assert maj_at_k([["5", "6", "6", "7"]], lambda i, a: a == "5", 4, numeric_equal) == 0.0


def test_maj_at_k_uses_only_first_k_samples():
    answers = [["5", "6", "6", "7", "7", "7"]]
    assert maj_at_k(answers, lambda i, a: a == "6", 4, numeric_equal) == 1.0  # 6 leads in the first 4
    assert maj_at_k(answers, lambda i, a: a == "7", 6, numeric_equal) == 1.0  # 7 leads over all 6


def test_maj_at_k_curve_and_fewer_samples_error():
    answers = [["17", "17", "23", None, "23", "23"], ["5", "6", "6", "7", "5", "5"]]
    # k=1: 17 yes, 5 yes -> 1 ; k=2: same -> 1 ; k=4: 17 yes, 6 no -> .5 ; k=6: 23 (3) no, 5 (3) yes -> .5
    curve = maj_at_k_curve(answers, lambda i, a: a == ["17", "5"][i], numeric_equal)
    assert curve == {"1": 1.0, "2": 1.0, "4": 0.5, "6": 0.5}
    with pytest.raises(ValueError, match="fewer than k=7"):
        maj_at_k(answers, gold_correct, 7, numeric_equal)
    with pytest.raises(ValueError, match="no problems"):
        maj_at_k([], gold_correct, 1, numeric_equal)
    with pytest.raises(ValueError, match="k must be"):
        maj_at_k(answers, gold_correct, 0, numeric_equal)


def test_sample_statistics():
    # 1 of 4 hit the length limit; 2 of 4 have no answer; (10 + 20 + 30 + 40) / 4 = 25
    assert truncation_rate(["stop", "length", "stop", "eos"]) == 0.25
    assert no_answer_rate(["1", None, None, "2"]) == 0.5
    assert mean_tokens([10, 20, 30, 40]) == 25.0
    with pytest.raises(ValueError, match="no samples"):
        mean_tokens([])
