"""The ``verify`` step: a row's reference solution/trace must reach its gold answer.

Rows that carry a solution (``solution_field``, or by default the first of ``solution``, ``trace``,
``generation``, ``completion`` that the row has, non-empty) are scored with a reward from the
registry (``accuracy`` by default: the final answer of the text, after ``</think>``, verified
against ``answer`` with Math-Verify; every other column of the row is passed along too, as the
reward contract allows). Kept when the score is ``>= min_reward``; removed when lower.
A score of ``None`` ("cannot judge", e.g. a gold answer that does not parse) or a missing gold
answer removes the row when ``drop_unverifiable`` (the default), else keeps it. Rows without a
solution pass through untouched. ``reward_params`` go to the reward's factory (e.g. the judge's
model for ``reward="judge"``, where the registry has one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from r1cli.curate.rows import Row, StepResult, mark_removed, reward_columns

SOLUTION_FIELDS = ("solution", "trace", "generation", "completion")


def resolve_reward(reward: str | Callable[..., list[float | None]],
                   params: dict[str, Any] | None = None) -> Callable[..., list]:
    """A reward name from ``r1cli.rewards`` (imported lazily; ``params`` go to its factory) or a callable."""
    if callable(reward):
        return reward
    from r1cli.rewards import get_reward

    return get_reward(reward, **(params or {}))


def _solution_of(row: Row, field: str | None) -> str | None:
    names = (field,) if field else SOLUTION_FIELDS
    for name in names:
        value = row.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return None


def verify_rows(rows: list[Row], *, reward: Any = "accuracy", reward_params: dict[str, Any] | None = None,
                solution_field: str | None = None, min_reward: float = 1.0,
                drop_unverifiable: bool = True) -> StepResult:
    """Score every row's reference solution against ``answer`` (see the module docstring)."""
    fn = resolve_reward(reward, reward_params)
    name = reward if isinstance(reward, str) else getattr(reward, "__name__", "reward")
    todo: list[int] = []
    for i, row in enumerate(rows):
        if _solution_of(row, solution_field) is not None and str(row.get("answer") or "").strip():
            todo.append(i)
    scores: dict[int, float | None] = {}
    if todo:
        texts = [_solution_of(rows[i], solution_field) for i in todo]
        columns = reward_columns([rows[i] for i in todo])
        columns["answer"] = [str(rows[i]["answer"]) for i in todo]
        scores = dict(zip(todo, fn(texts, **columns), strict=True))
    kept, removed = [], []
    for i, row in enumerate(rows):
        has_solution = _solution_of(row, solution_field) is not None
        if not has_solution:
            kept.append(row)
            continue
        if i not in scores:  # a solution but no gold answer
            if drop_unverifiable:
                removed.append(mark_removed(row, "verify", "unverifiable: no gold answer"))
            else:
                kept.append(row)
            continue
        score = scores[i]
        if score is None:
            if drop_unverifiable:
                removed.append(mark_removed(row, "verify", f"unverifiable: {name} cannot judge this answer"))
            else:
                kept.append(row)
        elif score >= min_reward:
            kept.append(row)
        else:
            removed.append(mark_removed(row, "verify", f"reference solution fails {name} "
                                        f"(score {score:g} < {min_reward:g})"))
    return kept, removed
