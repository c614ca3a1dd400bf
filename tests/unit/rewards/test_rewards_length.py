"""length (Kimi k1.5), cosine, repetition, overlong: values derived by hand in the comments."""

from __future__ import annotations

import math

import pytest

from r1cli.errors import R1Error
from r1cli.rewards import get_reward
from r1cli.rewards.length import kimi_length_rewards

RIGHT, WRONG = "\\boxed{2}", "\\boxed{3}"  # against gold "2"


def test_kimi_length_pure():
    # lens 10, 20, 30, 40 -> min 10, max 40, λ = 0.5 - (len-10)/30 = 0.5, 1/6, -1/6, -0.5
    # correct [1, 0, 1, 0]: correct -> λ; wrong -> min(0, λ)
    got = kimi_length_rewards([10, 20, 30, 40], [1.0, 0.0, 1.0, 0.0])
    assert got == pytest.approx([0.5, 0.0, -1 / 6, -0.5])


def test_kimi_length_all_equal_and_none():
    assert kimi_length_rewards([7, 7, 7], [1.0, 0.0, 1.0]) == [0.0, 0.0, 0.0]
    # a None (gold unparseable) is left out of min/max: lens 10 and 30 -> λ = 0.5, -0.5
    assert kimi_length_rewards([10, 99, 30], [1.0, None, 0.0]) == [0.5, None, -0.5]


def test_length_reward_tokens():
    fn = get_reward("length", unit="tokens")
    ids = [[0] * n for n in (10, 20, 30, 40)]
    got = fn([RIGHT, WRONG, RIGHT, WRONG], answer=["2"] * 4, completion_ids=ids)
    assert got == pytest.approx([0.5, 0.0, -1 / 6, -0.5])  # as in test_kimi_length_pure


def test_length_reward_chars_and_groups():
    # chars: "\boxed{2}" is 9 characters; padding makes 9, 19, 29 -> λ = 0.5, 0, -0.5
    texts = [RIGHT, RIGHT + "x" * 10, RIGHT + "x" * 20]
    assert get_reward("length")(texts, answer=["2"] * 3) == pytest.approx([0.5, 0.0, -0.5])
    # grouped by id: group a = lens 9, 19 (λ 0.5, -0.5); group b = one sample -> all equal -> 0
    got = get_reward("length", group_by="id")(texts, answer=["2"] * 3, id=["a", "a", "b"])
    assert got == pytest.approx([0.5, -0.5, 0.0])


def test_length_needs_completion_ids_for_tokens():
    with pytest.raises(R1Error, match="completion_ids"):
        get_reward("length", unit="tokens")([RIGHT], answer=["2"])
    with pytest.raises(R1Error, match="unknown unit 'words'"):
        get_reward("length", unit="words")


@pytest.mark.parametrize(
    ("n_tokens", "right", "expected"),
    [
        # r = lo + (hi - lo)(1 + cos(pi*len/100))/2, correct lo=0.5 hi=1.0; wrong lo=-0.5 hi=-1.0
        (0, True, 1.0),  # cos 0 = 1 -> hi
        (50, True, 0.75),  # cos(pi/2) = 0 -> 0.5 + 0.5*0.5
        (100, True, 0.5),  # cos pi = -1 -> lo
        (150, True, 0.5),  # clamps at max_len
        (25, True, 0.5 + 0.5 * (1 + math.cos(math.pi / 4)) / 2),  # 0.92678
        (0, False, -1.0),  # a short wrong answer is punished most
        (50, False, -0.75),  # -0.5 + (-0.5)*0.5
        (100, False, -0.5),  # a long wrong answer least
        (25, False, -0.5 - 0.5 * (1 + math.cos(math.pi / 4)) / 2),  # -0.92678
    ],
)
def test_cosine(n_tokens, right, expected):
    fn = get_reward("cosine", max_len=100, unit="tokens")
    got = fn([RIGHT if right else WRONG], answer=["2"], completion_ids=[[0] * n_tokens])
    assert got == [pytest.approx(expected)]


def test_cosine_chars_and_none():
    # 9 characters of 18: cos(pi/2) = 0 -> correct 0.75
    assert get_reward("cosine", max_len=18)([RIGHT], answer=["2"]) == [pytest.approx(0.75)]
    assert get_reward("cosine")([RIGHT], answer=["\\text{}"]) == [None]  # gold does not parse


@pytest.mark.parametrize(
    ("text", "n", "penalty", "expected"),
    [
        ("a b c a b c", 3, -1.0, -0.25),  # 3-grams abc bca cab abc: 3 unique of 4 -> (1-3/4)*-1
        ("A b C a B c", 3, -1.0, -0.25),  # lowercased first
        ("the the the the", 3, -1.0, -0.5),  # 2 grams, 1 unique -> (1-1/2)*-1
        ("a b c a b c", 3, -2.0, -0.5),  # scaled by max_penalty
        ("a b c d", 3, -1.0, 0.0),  # all unique
        ("a b", 3, -1.0, 0.0),  # fewer words than n
        ("", 3, -1.0, 0.0),
        ("a a a", 1, -1.0, -2 / 3),  # unigrams: 1 unique of 3
    ],
)
def test_repetition(text, n, penalty, expected):
    assert get_reward("repetition", ngram_size=n, max_penalty=penalty)([text]) == [pytest.approx(expected)]


def test_repetition_positive_penalty_is_an_error():
    with pytest.raises(R1Error, match="max_penalty must be <= 0"):
        get_reward("repetition", max_penalty=0.5)


@pytest.mark.parametrize(
    ("n_tokens", "expected"),
    [
        (0, 0.0),
        (80, 0.0),  # L <= max_len - cache_len = 100 - 20 = 80
        (81, -0.05),  # (80 - 81)/20
        (90, -0.5),  # (80 - 90)/20
        (100, -1.0),  # (80 - 100)/20
        (101, -1.0),  # beyond max_len
    ],
)
def test_overlong(n_tokens, expected):
    fn = get_reward("overlong", max_len=100, cache_len=20)
    assert fn(["text"], completion_ids=[[1] * n_tokens]) == [pytest.approx(expected)]


def test_overlong_validation():
    with pytest.raises(R1Error, match="cache_len .* must be smaller than max_len"):
        get_reward("overlong", max_len=100, cache_len=100)
    with pytest.raises(R1Error, match="completion_ids"):
        get_reward("overlong")(["text"])


def test_repetition_in_chinese_counts_character_ngrams():
    # "好好好好" (spaces ignored) -> characters 好好好好: 2-grams (好好) x3, 1 unique -> (1 - 1/3) * -1
    assert get_reward("repetition", ngram_size=2, language="zh")(["好 好好好"]) == [pytest.approx(-2 / 3)]
    # "我爱你我爱你": 3-grams 我爱你 爱你我 你我爱 我爱你 -> 3 unique of 4 -> (1 - 3/4) * -1
    assert get_reward("repetition", ngram_size=3, language="zh")(["我爱你我爱你"]) == [pytest.approx(-0.25)]
    # as words the same text is one word: fewer than 3 -> 0
    assert get_reward("repetition", ngram_size=3)(["我爱你我爱你"]) == [0.0]
    with pytest.raises(R1Error, match="unknown language 'zhh' .*did you mean 'zh'"):
        get_reward("repetition", language="zhh")
