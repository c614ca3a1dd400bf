"""Per-step GRPO metrics: rewards, accuracy, lengths of right and wrong answers, truncation, and the
"aha" statistic (reflection words per 1,000 completion tokens). Pure Python (no torch).

Metrics are built in two stages so that several ranks can be combined exactly: :func:`local_stats`
turns this rank's groups into sums, counts and maxima; :func:`merge_stats` adds those of all ranks;
:func:`finish_stats` turns the merged sums into means.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

MAX_KEYS = ("completion_length_max", "correct_length_max", "wrong_length_max")


@lru_cache(maxsize=16)
def _pattern(words: tuple[str, ...]) -> re.Pattern:
    # longest first, so "let me verify" is one hit, not "verify" inside it
    alternatives = sorted({w.strip().lower() for w in words if w.strip()}, key=len, reverse=True)
    body = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in alternatives) or r"(?!x)x"
    return re.compile(rf"(?<![A-Za-z])(?:{body})(?![A-Za-z])", re.IGNORECASE)


def count_reflections(text: str, words: Sequence[str]) -> int:
    """Occurrences of the reflection ``words`` (phrases allowed) in ``text``.

    Case-insensitive, on word boundaries (``"await"`` and ``"waiting"`` do not count as "wait"),
    non-overlapping with the longest phrase winning.
    """
    return len(_pattern(tuple(words)).findall(text))


def reflection_rate(texts: Iterable[str], num_tokens: int, words: Sequence[str]) -> float:
    """Reflection words per 1,000 completion tokens: ``1000 · Σ count / num_tokens`` (0 with no tokens)."""
    if num_tokens <= 0:
        return 0.0
    return 1000.0 * sum(count_reflections(t, words) for t in texts) / num_tokens


def local_stats(groups: Sequence[Any], words: Sequence[str]) -> dict[str, float]:
    """Sums, counts and maxima over this rank's groups (see :func:`finish_stats` for the means).

    ``groups``: :class:`~r1cli.train.rollout.Group` objects with rewards, components and correct set.
    """
    s: dict[str, float] = {
        "n": 0, "n_judged": 0, "reward_sum": 0.0, "reward_sq_sum": 0.0, "n_correct": 0, "n_wrong": 0,
        "tokens": 0, "correct_tokens": 0, "wrong_tokens": 0, "truncated": 0, "reflections": 0,
        "completion_length_max": 0, "correct_length_max": 0, "wrong_length_max": 0, "groups": len(groups),
    }
    for g in groups:
        for i, c in enumerate(g.completions):
            n_tok = len(c.token_ids)
            s["n"] += 1
            s["tokens"] += n_tok
            s["truncated"] += c.finish_reason == "length"
            s["reflections"] += count_reflections(c.text, words)
            s["completion_length_max"] = max(s["completion_length_max"], n_tok)
            r = g.rewards[i] if i < len(g.rewards) else None
            if r is not None:
                s["n_judged"] += 1
                s["reward_sum"] += r
                s["reward_sq_sum"] += r * r
            kind = "correct" if i < len(g.correct) and g.correct[i] else "wrong"
            s[f"n_{kind}"] += 1
            s[f"{kind}_tokens"] += n_tok
            s[f"{kind}_length_max"] = max(s[f"{kind}_length_max"], n_tok)
            for name, values in g.components.items():
                v = values[i] if i < len(values) else None
                if v is not None:
                    s[f"c:{name}:sum"] = s.get(f"c:{name}:sum", 0.0) + v
                    s[f"c:{name}:n"] = s.get(f"c:{name}:n", 0) + 1
    return s


def merge_stats(parts: Iterable[dict[str, float]]) -> dict[str, float]:
    """Combine :func:`local_stats` of several ranks: maxima by max, everything else by sum."""
    out: dict[str, float] = {}
    for part in parts:
        for k, v in part.items():
            if k in MAX_KEYS:
                out[k] = max(out.get(k, 0), v)
            else:
                out[k] = out.get(k, 0) + v
    return out


def finish_stats(s: dict[str, float], words_per_1k: bool = True) -> dict[str, float]:
    """Means from merged sums.

    ``reward_mean``/``reward_std`` over judged completions (population std); ``reward/<name>`` the
    mean of each component; ``accuracy`` = correct / all; lengths in tokens; ``truncated_frac`` =
    completions cut at ``max_new_tokens``; ``reflection_per_1k_tokens`` = 1000·reflections/tokens.
    """
    n, judged = max(s.get("n", 0), 0), s.get("n_judged", 0)
    mean = s["reward_sum"] / judged if judged else 0.0
    var = max(0.0, s["reward_sq_sum"] / judged - mean * mean) if judged else 0.0
    out = {
        "reward_mean": mean,
        "reward_std": math.sqrt(var),
        "frac_reward_none": (n - judged) / n if n else 0.0,
        "accuracy": s["n_correct"] / n if n else 0.0,
        "completion_length_mean": s["tokens"] / n if n else 0.0,
        "completion_length_max": s["completion_length_max"],
        "correct_length_mean": s["correct_tokens"] / s["n_correct"] if s["n_correct"] else 0.0,
        "correct_length_max": s["correct_length_max"],
        "wrong_length_mean": s["wrong_tokens"] / s["n_wrong"] if s["n_wrong"] else 0.0,
        "wrong_length_max": s["wrong_length_max"],
        "truncated_frac": s["truncated"] / n if n else 0.0,
        "reflection_per_1k_tokens": 1000.0 * s["reflections"] / s["tokens"] if s["tokens"] else 0.0,
        "completions": n,
        "completion_tokens": s["tokens"],
    }
    for k in sorted(s):
        if k.startswith("c:") and k.endswith(":sum"):
            name = k[2:-4]
            out[f"reward/{name}"] = s[k] / s[f"c:{name}:n"] if s.get(f"c:{name}:n") else 0.0
    return out


def weighted_mean(pairs: Iterable[tuple[float, float]]) -> float:
    """``Σ w·x / Σ w`` over ``(x, w)`` pairs (0 when the weights sum to 0)."""
    num = den = 0.0
    for x, w in pairs:
        num += x * w
        den += w
    return num / den if den else 0.0


PLOTS = {
    "reward.png": ("reward_mean",),
    "accuracy.png": ("accuracy", "eval_accuracy"),
    "length.png": ("completion_length_mean", "correct_length_mean", "wrong_length_mean"),
    "reflection.png": ("reflection_per_1k_tokens",),
}
"""PNG file name -> metrics.jsonl keys drawn in it (written at the end of a run)."""


def check_finite_record(record: dict[str, Any], step: int) -> None:
    """Stop the run with a clear message when the loss or the gradient norm is NaN/inf."""
    from r1cli.errors import R1Error

    for key in ("loss", "grad_norm"):
        value = record.get(key)
        if isinstance(value, float) and not math.isfinite(value):
            raise R1Error(f"step {step}: {key} is {value}; stopping (the last checkpoint is intact). Lower "
                          "train.learning_rate or check the rewards")
