"""Weighted combinations of rewards: ``--reward acc,format --reward-weights 1,0.5``.

The total for sample i is Σ_k w_k · r_k[i] over the components with a non-zero weight. If any of
those r_k[i] is ``None`` (the component cannot judge the sample) the total is ``None`` too - a
partial sum would silently reward a sample for what could be judged. Components with weight 0 are
still computed, for logging only, and their ``None`` does not affect the total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from r1cli.errors import R1Error
from r1cli.rewards.registry import RewardFn, canonical_name, get_reward


def _weight(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise R1Error(f"reward weight '{text}' in {where} is not a number (e.g. acc:1,format:0.5)") from None


def parse_reward_spec(
    spec: str | Sequence[str], weights: str | Sequence[float] | None = None
) -> list[tuple[str, float]]:
    """``"acc,format"`` + ``"1,0.5"`` or ``"acc:1,format:0.5"`` -> ``[("accuracy", 1.0), ("format", 0.5)]``.

    Names are canonical (aliases resolved); weights default to 1. Errors (R1Error): an empty or
    unknown name, a repeated reward, weights given both inline and separately, a count mismatch.
    """
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec)]
    if not items or any(not s for s in items):
        raise R1Error(f"reward spec '{spec}' has an empty name; write e.g. acc,format or acc:1,format:0.5")
    inline = [":" in s for s in items]
    if any(inline) and weights is not None:
        raise R1Error("reward weights given twice: inline (acc:1) and with --reward-weights; use one")
    if any(inline) and not all(inline):
        raise R1Error(f"reward spec '{spec}': give a weight to every reward (acc:1,format:0.5) or to none")
    parsed: list[tuple[str, float]] = []
    if any(inline):
        for item in items:
            name, _, w = item.partition(":")
            parsed.append((canonical_name(name), _weight(w.strip(), f"'{spec}'")))
    else:
        if weights is None:
            values = [1.0] * len(items)
        elif isinstance(weights, str):
            values = [_weight(w.strip(), f"'{weights}'") for w in weights.split(",")]
        else:
            values = [float(w) for w in weights]
        if len(values) != len(items):
            raise R1Error(f"{len(items)} rewards ({', '.join(items)}) but {len(values)} weights ({weights})")
        parsed = [(canonical_name(n), w) for n, w in zip(items, values, strict=True)]
    names = [n for n, _ in parsed]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise R1Error(f"reward '{repeated[0]}' appears twice in '{spec}'")
    return parsed


@dataclass
class RewardBreakdown:
    """Per-sample totals and each component's values (for logging), all aligned with the completions."""

    total: list[float | None]
    components: dict[str, list[float | None]]


class CombinedReward:
    """Callable like any reward (returns the totals); :meth:`score` also returns the components.

    Attributes:
        names, weights: the components, canonical names, in spec order.
        last: the :class:`RewardBreakdown` of the latest call (None before the first).
    """

    def __init__(self, parts: list[tuple[str, float]], fns: list[RewardFn]):
        self.names = [n for n, _ in parts]
        self.weights = [w for _, w in parts]
        self.fns = fns
        self.last: RewardBreakdown | None = None
        self.__name__ = "+".join(self.names)

    def score(self, completions: Sequence[Any], **columns: Any) -> RewardBreakdown:
        """Run every component once; total_i = Σ_k w_k·r_k[i] (None if a weighted r_k[i] is None)."""
        n = len(completions)
        components: dict[str, list[float | None]] = {}
        for name, fn in zip(self.names, self.fns, strict=True):
            values = list(fn(completions, **columns))
            if len(values) != n:
                raise RuntimeError(f"reward '{name}' returned {len(values)} values for {n} completions")
            components[name] = values
        total: list[float | None] = []
        for i in range(n):
            acc: float | None = 0.0
            for name, w in zip(self.names, self.weights, strict=True):
                if w == 0:
                    continue
                v = components[name][i]
                if v is None:
                    acc = None
                    break
                acc += w * v
            total.append(acc)
        self.last = RewardBreakdown(total=total, components=components)
        return self.last

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float | None]:
        return self.score(completions, **columns).total

    @property
    def last_components(self) -> dict[str, list[float | None]]:
        """Each component's values from the latest call ({} before the first)."""
        return self.last.components if self.last is not None else {}


def combine_rewards(
    spec: str | Sequence[str],
    weights: str | Sequence[float] | None = None,
    params: dict[str, dict[str, Any]] | None = None,
) -> CombinedReward:
    """Build a weighted sum of rewards.

    Args:
        spec: ``"acc,format"`` or ``"acc:1,format:0.5"`` (or a list of names).
        weights: ``"1,0.5"`` (or a list), one per reward; default 1 each. Not with inline weights.
        params: per-reward parameters, keyed by name or alias: ``{"cosine": {"max_len": 500}}``.

    Returns:
        A :class:`CombinedReward`: ``fn(completions, **columns)`` gives the totals (``None`` when
        any reward with non-zero weight returns ``None`` for that sample); ``fn.score(...)`` and
        ``fn.last_components`` give each component's per-sample values for logging.
    """
    parts = parse_reward_spec(spec, weights)
    names = {n for n, _ in parts}
    by_name: dict[str, dict[str, Any]] = {}
    for key, value in (params or {}).items():
        name = canonical_name(key)
        if name not in names:
            raise R1Error(f"parameters given for reward '{key}', which is not in '{spec}'")
        by_name.setdefault(name, {}).update(value or {})
    fns = [get_reward(name, **by_name.get(name, {})) for name, _ in parts]
    return CombinedReward(parts, fns)
