"""Length-shaped rewards: ``length`` (Kimi k1.5), ``cosine``, ``repetition``, ``overlong`` (DAPO).

``length`` and ``cosine`` need correctness; they grade with the ``accuracy`` reward (which shares
its verdict cache, so ``acc,cosine`` grades each answer once).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from r1cli.errors import R1Error, did_you_mean, one_of
from r1cli.rewards.accuracy import make_accuracy_reward
from r1cli.rewards.columns import require_column
from r1cli.rewards.extract import completion_text

UNITS = ("chars", "tokens")
_IDS_HINT = "token counts come from 'completion_ids' (the trainer passes them); or use unit='chars'"


def _named(fn: Callable, name: str) -> Callable:
    fn.__name__ = name
    return fn


def _check_unit(reward: str, unit: str) -> None:
    if unit not in UNITS:
        raise R1Error(f"{reward} reward: unknown unit '{unit}'; use {one_of(UNITS)}")


def lengths(reward: str, completions: Sequence[Any], unit: str, columns: dict[str, Any]) -> list[int]:
    """Length of each completion in characters, or in tokens (``len`` of ``completion_ids[i]``)."""
    if unit == "tokens":
        ids = require_column(
            reward, "completion_ids", columns.get("completion_ids"), len(completions), _IDS_HINT
        )
        return [len(x) for x in ids]
    return [len(completion_text(c)) for c in completions]


def kimi_length_rewards(lens: Sequence[int], correct: Sequence[float | None]) -> list[float | None]:
    """Kimi k1.5 length reward over one set of completions.

    λ_i = 0.5 − (len_i − min_len) / (max_len − min_len); correct → λ_i, wrong → min(0, λ_i);
    all lengths equal → 0 for all. ``None`` correctness → None, and such samples are left out of
    min/max. Shapes: ``lens``, ``correct`` and the result all have length N.
    """
    known = [n for n, c in zip(lens, correct, strict=True) if c is not None]
    if not known:
        return [None] * len(lens)
    lo, hi = min(known), max(known)
    out: list[float | None] = []
    for n, c in zip(lens, correct, strict=True):
        if c is None:
            out.append(None)
        elif hi == lo:
            out.append(0.0)
        else:
            lam = 0.5 - (n - lo) / (hi - lo)
            out.append(lam if c >= 1.0 else min(0.0, lam))
    return out


def make_length_reward(unit: str = "chars", group_by: str | None = None, timeout_s: float = 5.0) -> Callable:
    """``length``: Kimi k1.5 length penalty; correctness from ``accuracy`` (needs ``answer``).

    min/max are taken over all completions of one call, or per value of the column ``group_by``
    (e.g. ``"id"`` or ``"prompts"``) when given, so groups of different problems do not mix.
    """
    _check_unit("length", unit)
    accuracy = make_accuracy_reward(timeout_s=timeout_s)

    def length_reward(completions: Sequence[Any], **columns: Any) -> list[float | None]:
        n = len(completions)
        lens = lengths("length", completions, unit, columns)
        correct = accuracy(completions, **columns)
        if group_by is None:
            return kimi_length_rewards(lens, correct)
        keys = require_column("length", group_by, columns.get(group_by), n)
        out: list[float | None] = [None] * n
        groups: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            groups.setdefault(repr(key), []).append(i)
        for members in groups.values():
            values = kimi_length_rewards([lens[i] for i in members], [correct[i] for i in members])
            for i, v in zip(members, values, strict=True):
                out[i] = v
        return out

    return _named(length_reward, "length")


def cosine_reward_value(
    length: int,
    correct: bool,
    max_len: int,
    min_value_correct: float,
    max_value_correct: float,
    min_value_wrong: float,
    max_value_wrong: float,
) -> float:
    """r = lo + (hi − lo)·(1 + cos(π·min(len, max_len)/max_len))/2.

    correct: lo = min_value_correct, hi = max_value_correct; wrong: lo = max_value_wrong,
    hi = min_value_wrong (a short wrong answer gets min_value_wrong, a long one max_value_wrong).
    """
    lo, hi = (min_value_correct, max_value_correct) if correct else (max_value_wrong, min_value_wrong)
    progress = min(length, max_len) / max_len
    return lo + (hi - lo) * (1.0 + math.cos(math.pi * progress)) / 2.0


def make_cosine_reward(
    max_len: int = 1000,
    min_value_correct: float = 0.5,
    max_value_correct: float = 1.0,
    min_value_wrong: float = -1.0,
    max_value_wrong: float = -0.5,
    unit: str = "chars",
    timeout_s: float = 5.0,
) -> Callable:
    """``cosine``: length-scaled correctness (Yeo et al.; open-r1 ``get_cosine_scaled_reward``).

    ``len`` is in characters, or tokens (``unit="tokens"``, from ``completion_ids``); len ≥ max_len
    clamps to the long end. A gold that cannot be parsed gives None.
    """
    _check_unit("cosine", unit)
    if not isinstance(max_len, int) or max_len < 1:
        raise R1Error(f"cosine reward: max_len must be a positive integer, got {max_len!r}")
    accuracy = make_accuracy_reward(timeout_s=timeout_s)
    params = (
        max_len,
        float(min_value_correct),
        float(max_value_correct),
        float(min_value_wrong),
        float(max_value_wrong),
    )

    def cosine_reward(completions: Sequence[Any], **columns: Any) -> list[float | None]:
        lens = lengths("cosine", completions, unit, columns)
        correct = accuracy(completions, **columns)
        return [
            None if c is None else cosine_reward_value(n, c >= 1.0, *params)
            for n, c in zip(lens, correct, strict=True)
        ]

    return _named(cosine_reward, "cosine")


def repetition_value(text: str, ngram_size: int, max_penalty: float, language: str = "en") -> float:
    """(1 − unique/total)·max_penalty over n-grams of the lowercased text; 0 if it has fewer than n units.

    The units are words split on whitespace (``language="en"``, and any language that separates its
    words with spaces) or characters with whitespace removed (``"zh"``: Chinese has no spaces between
    words, so open-r1 counts character n-grams there).
    """
    lowered = text.lower()
    units: Sequence[str] = "".join(lowered.split()) if language == "zh" else lowered.split()
    if len(units) < ngram_size:
        return 0.0
    grams = [tuple(units[i : i + ngram_size]) for i in range(len(units) - ngram_size + 1)]
    return (1.0 - len(set(grams)) / len(grams)) * max_penalty


REPETITION_LANGUAGES = ("en", "zh")


def make_repetition_reward(ngram_size: int = 3, max_penalty: float = -1.0, language: str = "en") -> Callable:
    """``repetition``: penalty for repeated n-grams (open-r1 ``repetition_penalty_reward``): word
    n-grams for ``language="en"``, character n-grams for ``"zh"``."""
    if not isinstance(ngram_size, int) or ngram_size < 1:
        raise R1Error(f"repetition reward: ngram_size must be a positive integer, got {ngram_size!r}")
    if max_penalty > 0:
        raise R1Error(f"repetition reward: max_penalty must be <= 0 (it is a penalty), got {max_penalty}")
    lang = str(language).strip().lower()
    if lang not in REPETITION_LANGUAGES:
        raise R1Error(f"repetition reward: unknown language '{language}'{did_you_mean(lang, REPETITION_LANGUAGES)}; "
                      f"use {one_of(REPETITION_LANGUAGES)}")

    def repetition_reward(completions: Sequence[Any], **columns: Any) -> list[float | None]:
        return [repetition_value(completion_text(c), ngram_size, float(max_penalty), lang) for c in completions]

    return _named(repetition_reward, "repetition")


def overlong_value(length: int, max_len: int, cache_len: int) -> float:
    """DAPO soft overlong punishment: 0 if L ≤ max_len − cache_len; (max_len − cache_len − L)/cache_len
    up to max_len (from 0 down to −1); −1 beyond max_len."""
    expected = max_len - cache_len
    if length <= expected:
        return 0.0
    if length <= max_len:
        return (expected - length) / cache_len
    return -1.0


def make_overlong_reward(max_len: int = 20480, cache_len: int = 4096) -> Callable:
    """``overlong``: DAPO soft punishment on token counts from ``completion_ids`` (DAPO defaults)."""
    for name, value in (("max_len", max_len), ("cache_len", cache_len)):
        if not isinstance(value, int) or value < 1:
            raise R1Error(f"overlong reward: {name} must be a positive integer, got {value!r}")
    if cache_len >= max_len:
        raise R1Error(f"overlong reward: cache_len ({cache_len}) must be smaller than max_len ({max_len})")

    def overlong_reward(completions: Sequence[Any], **columns: Any) -> list[float | None]:
        return [
            overlong_value(n, max_len, cache_len) for n in lengths("overlong", completions, "tokens", columns)
        ]

    return _named(overlong_reward, "overlong")
