"""Column plumbing shared by the rewards: a dataset column as a list aligned with the completions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from r1cli.errors import R1Error


def require_column(
    reward: str, column: str, values: Sequence[Any] | None, n: int, hint: str = ""
) -> list[Any]:
    """``values`` as a list of ``n`` items, or an R1Error naming the reward and the missing column.

    ``hint`` is appended to the "missing" message (e.g. how to map another field to the column).
    """
    if values is None:
        raise R1Error(
            f"reward '{reward}' needs the column '{column}' (one value per completion)"
            + (f"; {hint}" if hint else "")
        )
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise R1Error(f"reward '{reward}': column '{column}' must be a list aligned with the completions")
    if len(values) != n:
        raise R1Error(f"reward '{reward}': column '{column}' has {len(values)} values for {n} completions")
    return list(values)
