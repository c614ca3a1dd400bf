"""Rewards: one registry of pure functions over completions (DESIGN.md §2).

``get_reward(name, **params)`` returns ``fn(completions, **columns) -> list[float | None]``;
``None`` means "cannot judge, leave this sample out". ``columns`` are dataset columns aligned with
the completions (``answer``, ``numbers``, ``target``, ``tests``, ``test_code``, ``completion_ids``,
...); each reward reads the ones it needs and ignores the rest.

Names: accuracy (alias acc), format, tag_count, reasoning_steps, length, cosine, repetition,
overlong, countdown, code, judge. ``combine_rewards("acc:1,format:0.5")`` builds a weighted sum.
Nothing here imports math-verify, sympy or torch at import time.
"""

from r1cli.rewards.accuracy import (
    AccuracyReward,
    answers_equivalent,
    cluster_answers,
    equivalent_pairs,
    extract_answer,
    extract_answers,
)
from r1cli.rewards.combine import CombinedReward, RewardBreakdown, combine_rewards, parse_reward_spec
from r1cli.rewards.registry import ALIASES, REWARDS, canonical_name, get_reward, reward_parameters

__all__ = [
    "ALIASES",
    "REWARDS",
    "AccuracyReward",
    "CombinedReward",
    "RewardBreakdown",
    "answers_equivalent",
    "canonical_name",
    "cluster_answers",
    "combine_rewards",
    "equivalent_pairs",
    "extract_answer",
    "extract_answers",
    "get_reward",
    "parse_reward_spec",
    "reward_parameters",
]
