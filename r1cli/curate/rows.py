"""Small helpers shared by the curation steps."""

from __future__ import annotations

from collections.abc import Iterable

from r1cli.errors import R1Error, did_you_mean

Row = dict
StepResult = tuple[list[Row], list[Row]]  # (kept rows, removed rows)


def mark_removed(row: Row, step: str, reason: str) -> Row:
    """A copy of ``row`` with ``removed_by`` (the step name) and ``reason``."""
    return {**row, "removed_by": step, "reason": reason}


def text_of(row: Row, field: str, step: str) -> str:
    """``row[field]`` as a string; a row without the field is a user error naming the row and field."""
    if field not in row:
        raise R1Error(f"{step}: row '{row.get('id')}' has no field '{field}'"
                      f"{did_you_mean(field, row.keys())}; fields are: {', '.join(row.keys())}")
    value = row[field]
    return "" if value is None else str(value)


def check_choice(step: str, key: str, value: str, choices: Iterable[str]) -> None:
    """Raise R1Error unless ``value`` is one of ``choices``."""
    choices = list(choices)
    if value not in choices:
        raise R1Error(f"{step}.{key}: unknown value '{value}'{did_you_mean(value, choices)}; "
                      f"valid: {', '.join(choices)}")


def reward_columns(rows: list[Row], repeat: int = 1) -> dict[str, list]:
    """Dataset columns for a reward call (``fn(completions, **columns)``): every column of ``rows``,
    each value repeated ``repeat`` times (k samples per row); a row lacking a column gives None."""
    names = list(dict.fromkeys(k for r in rows for k in r))
    return {k: [r.get(k) for r in rows for _ in range(repeat)] for k in names}
