"""The registry (names, aliases, parameter checks and coercion) and weighted combinations."""

from __future__ import annotations

import pytest

from r1cli.errors import R1Error
from r1cli.rewards import REWARDS, combine_rewards, get_reward, parse_reward_spec
from r1cli.rewards.registry import LazyFactory, reward_parameters

NAMES = {
    "accuracy",
    "acc",
    "format",
    "code_format",
    "tag_count",
    "reasoning_steps",
    "length",
    "cosine",
    "repetition",
    "overlong",
    "countdown",
    "code",
    "language",
    "judge",
}


def test_every_name_and_alias_is_registered():
    assert set(REWARDS) == NAMES
    assert REWARDS["acc"] is REWARDS["accuracy"]
    judge = REWARDS["judge"]  # built by the generation side; imported only when used
    assert isinstance(judge, LazyFactory) and (judge.module, judge.attr) == (
        "r1cli.rewards.judge",
        "make_judge_reward",
    )


# Rewards that run without extra machinery, with the columns they need and one expected value.
SIMPLE = [
    ("format", {}, "<think>r</think> 7", 1.0),
    ("tag_count", {}, "<think>\nr\n</think>\n<answer>\n7\n</answer>", 1.0),
    ("reasoning_steps", {}, "Step 1: a\nStep 2: b\nStep 3: c", 1.0),
    ("repetition", {}, "a b c a b c", -0.25),  # 3 unique of 4 trigrams
    ("overlong", {"completion_ids": [[0] * 5]}, "x", 0.0),  # 5 tokens, far below 20480 - 4096
    ("countdown", {"numbers": [[3, 5, 7]], "target": [20]}, "<answer>(7-3)*5</answer>", 1.0),
]


@pytest.mark.parametrize(("name", "columns", "text", "expected"), SIMPLE)
def test_rewards_ignore_columns_they_do_not_use(name, columns, text, expected):
    fn = get_reward(name)
    extra = {"answer": ["7"], "tests": [None], "problem": ["p"], "id": ["x"], "trainer_state": None}
    assert fn([text], **{**extra, **columns}) == [expected]
    assert fn.__name__ == name  # TRL logs rewards by __name__


def test_unknown_name_suggests_and_lists():
    with pytest.raises(
        R1Error,
        match=r"unknown reward 'acuracy' \(did you mean 'accuracy'\?\); available: one of: acc, accuracy",
    ):
        get_reward("acuracy")


def test_names_are_case_and_dash_insensitive():
    assert get_reward("Tag-Count").__name__ == "tag_count"


def test_unknown_parameter_is_named():
    with pytest.raises(
        R1Error, match=r"reward 'cosine' has no parameter 'max_length' \(did you mean 'max_len'\?\)"
    ):
        get_reward("cosine", max_length=10)
    with pytest.raises(R1Error, match="reward 'countdown' has no parameter 'x'; it takes no parameters"):
        get_reward("countdown", x=1)


def test_string_parameters_are_coerced():
    # "0.5" -> float, "true" -> bool, "2" -> int, "none" -> None
    fn = get_reward("repetition", max_penalty="-2", ngram_size="3")
    assert fn(["a b c a b c"]) == [-0.5]  # (1 - 3/4) * -2
    assert get_reward("format", prefilled_think="true")(["r</think> 7"]) == [1.0]
    assert get_reward("accuracy", workers="none").workers is None
    with pytest.raises(R1Error, match="parameter 'max_len' must be int, got 'ten'"):
        get_reward("cosine", max_len="ten")
    with pytest.raises(R1Error, match="must be true or false"):
        get_reward("format", prefilled_think="maybe")


def test_reward_parameters():
    assert reward_parameters("acc") == {"timeout_s": 5.0, "workers": None, "cache": True, "fast": True}


# --- combinations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "weights", "expected"),
    [
        ("acc,format", "1,0.5", [("accuracy", 1.0), ("format", 0.5)]),
        ("acc:1,format:0.5", None, [("accuracy", 1.0), ("format", 0.5)]),
        (" acc : 2 , format:-1 ", None, [("accuracy", 2.0), ("format", -1.0)]),
        ("acc,format", None, [("accuracy", 1.0), ("format", 1.0)]),  # default weight 1
        (["acc", "format"], [1, 0.5], [("accuracy", 1.0), ("format", 0.5)]),
    ],
)
def test_parse_reward_spec(spec, weights, expected):
    assert parse_reward_spec(spec, weights) == expected


@pytest.mark.parametrize(
    ("spec", "weights", "message"),
    [
        ("acc:1,format:0.5", "1,0.5", "weights given twice"),
        ("acc:1,format", None, "give a weight to every reward"),
        ("acc,format", "1", "2 rewards .* but 1 weights"),
        ("acc:one", None, "'one' .* is not a number"),
        ("acc,accuracy", None, "'accuracy' appears twice"),
        ("acc,,format", None, "empty name"),
        ("acc,fromat", None, "did you mean 'format'"),
    ],
)
def test_parse_reward_spec_errors(spec, weights, message):
    with pytest.raises(R1Error, match=message):
        parse_reward_spec(spec, weights)


def test_combined_totals_and_components():
    fn = combine_rewards("acc,format", "1,0.5")
    texts = [
        "<think>r</think> \\boxed{2}",
        "<think>r</think> \\boxed{3}",
        "\\boxed{2}",
        "<think>r</think> \\boxed{2}",
    ]
    golds = ["2", "2", "2", "\\text{}"]
    # 1*1 + 0.5*1 = 1.5; 1*0 + 0.5*1 = 0.5; 1*1 + 0.5*0 = 1.0; accuracy None -> total None
    assert fn(texts, answer=golds) == [1.5, 0.5, 1.0, None]
    assert fn.last_components == {"accuracy": [1.0, 0.0, 1.0, None], "format": [1.0, 1.0, 0.0, 1.0]}
    assert fn.__name__ == "accuracy+format"
    breakdown = fn.score(texts[:1], answer=golds[:1])
    assert breakdown.total == [1.5] and breakdown.components == {"accuracy": [1.0], "format": [1.0]}


def test_zero_weight_component_is_logged_but_cannot_poison_the_total():
    fn = combine_rewards("format:1,acc:0")
    # accuracy is None (gold unparseable) but has weight 0: total = format = 1.0
    assert fn(["<think>r</think> \\boxed{2}"], answer=["\\text{}"]) == [1.0]
    assert fn.last_components["accuracy"] == [None]


def test_combined_params_by_name_or_alias():
    fn = combine_rewards(
        "acc,repetition", params={"repetition": {"max_penalty": -2.0}, "acc": {"timeout_s": 3}}
    )
    # "a b c a b c \boxed{2}": trigrams abc bca cab abc "b c \boxed{2}" -> 4 unique of 5 -> (1-4/5)*-2 = -0.4
    assert fn(["a b c a b c \\boxed{2}"], answer=["2"]) == [pytest.approx(1.0 - 0.4)]
    with pytest.raises(R1Error, match="parameters given for reward 'cosine', which is not in"):
        combine_rewards("acc", params={"cosine": {"max_len": 3}})
    with pytest.raises(R1Error, match="has no parameter 'bogus'"):
        combine_rewards("acc", params={"acc": {"bogus": 1}})
