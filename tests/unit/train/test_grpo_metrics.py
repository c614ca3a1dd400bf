"""GRPO step metrics: reflection-word counting and the reward/length/accuracy statistics."""

from __future__ import annotations

import math

import pytest

from r1cli.config.grpo import REFLECTION_WORDS
from r1cli.errors import R1Error
from r1cli.generation.base import Completion
from r1cli.train.grpo_metrics import (
    check_finite_record,
    count_reflections,
    finish_stats,
    local_stats,
    merge_stats,
    reflection_rate,
)
from r1cli.train.rollout import Group

TEXT = "Wait, let me check. Hmm... await waiting. Let me verify: AHA! Let me   check again; double-check."


def test_reflection_counting_on_hand_made_text():
    # Wait(1) + let me check(2) + Hmm(3) + [await, waiting: not words] + Let me verify(4, one phrase,
    # not also "verify") + AHA(5) + "Let me   check" (6, any whitespace) + double-check(7)
    assert count_reflections(TEXT, REFLECTION_WORDS) == 7


def test_reflection_custom_words_and_boundaries():
    assert count_reflections("Waiter! wait-list; WAIT", ["wait"]) == 2  # "wait-list" and "WAIT"; not "Waiter"
    assert count_reflections("nothing here", ["wait"]) == 0
    assert count_reflections("anything", []) == 0


def test_reflection_rate_per_thousand_tokens():
    # 7 reflections in 350 tokens -> 1000 * 7 / 350 = 20.0
    assert reflection_rate([TEXT], 350, REFLECTION_WORDS) == pytest.approx(20.0)
    assert reflection_rate([TEXT], 0, REFLECTION_WORDS) == 0.0


def _group(specs, comps=None):
    """specs: (text, n_tokens, finish, reward, correct)."""
    g = Group({"id": "x"}, "p", [1], [Completion(text=t, token_ids=tuple(range(n)), finish_reason=f)
                                      for t, n, f, _, _ in specs])
    g.rewards = [r for *_, r, _ in specs]
    g.correct = [c for *_, c in specs]
    g.components = comps or {}
    return g


def test_stats_from_two_groups():
    g1 = _group([("wait, 7", 10, "stop", 1.0, True), ("8", 4, "length", 0.0, False)],
                {"accuracy": [1.0, 0.0], "format": [1.0, None]})
    g2 = _group([("hmm 3", 6, "stop", 2.0, True), ("x", 20, "stop", None, False)],
                {"accuracy": [1.0, None], "format": [1.0, 0.0]})
    s = finish_stats(merge_stats([local_stats([g1], ["wait", "hmm"]), local_stats([g2], ["wait", "hmm"])]))
    # judged rewards 1, 0, 2 -> mean 1, population var (0 + 1 + 1) / 3
    assert s["reward_mean"] == pytest.approx(1.0)
    assert s["reward_std"] == pytest.approx(math.sqrt(2 / 3))
    assert s["frac_reward_none"] == pytest.approx(0.25)
    assert s["accuracy"] == pytest.approx(0.5)
    assert s["completion_length_mean"] == pytest.approx((10 + 4 + 6 + 20) / 4)
    assert s["completion_length_max"] == 20
    assert s["correct_length_mean"] == pytest.approx(8.0) and s["correct_length_max"] == 10  # (10 + 6) / 2
    assert s["wrong_length_mean"] == pytest.approx(12.0) and s["wrong_length_max"] == 20  # (4 + 20) / 2
    assert s["truncated_frac"] == pytest.approx(0.25)
    assert s["reflection_per_1k_tokens"] == pytest.approx(1000 * 2 / 40)  # "wait", "hmm" in 40 tokens
    assert s["reward/accuracy"] == pytest.approx(2 / 3)  # None skipped: (1 + 0 + 1) / 3
    assert s["reward/format"] == pytest.approx(2 / 3)  # (1 + 1 + 0) / 3


def test_merge_keeps_maxima():
    a = {"completion_length_max": 5, "n": 1}
    b = {"completion_length_max": 3, "n": 2}
    assert merge_stats([a, b]) == {"completion_length_max": 5, "n": 3}


def test_empty_stats_are_zero_not_nan():
    s = finish_stats(local_stats([], ["wait"]))
    assert s["reward_mean"] == 0.0 and s["accuracy"] == 0.0 and s["reflection_per_1k_tokens"] == 0.0


def test_nan_loss_stops_with_a_message():
    with pytest.raises(R1Error, match="step 3: loss is nan"):
        check_finite_record({"loss": float("nan"), "grad_norm": 1.0}, 3)
    check_finite_record({"loss": 0.1, "grad_norm": 1.0}, 3)
