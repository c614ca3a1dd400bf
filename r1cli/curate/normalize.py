"""The ``normalize`` step: NFKC + whitespace collapse; empty and garbled rows dropped."""

from __future__ import annotations

from r1cli.curate.rows import Row, StepResult, mark_removed, text_of
from r1cli.curate.text import clean_text, garbled_ratio
from r1cli.errors import R1Error


def normalize_rows(rows: list[Row], *, fields: tuple[str, ...] | list[str] = ("problem",),
                   keep_newlines: bool = True, max_garbled_ratio: float = 0.1,
                   require_answer: bool = False) -> StepResult:
    """Rewrite ``fields`` with :func:`~r1cli.curate.text.clean_text`; drop empty or garbled rows.

    A row is removed when its ``problem`` is empty after cleaning, when any of ``fields`` has a
    :func:`~r1cli.curate.text.garbled_ratio` above ``max_garbled_ratio`` (measured on the raw text),
    or, with ``require_answer``, when its ``answer`` is missing or empty. Fields other than
    ``problem`` that a row lacks are left alone.
    """
    if not 0.0 <= max_garbled_ratio <= 1.0:
        raise R1Error(f"normalize.max_garbled_ratio: {max_garbled_ratio} must be in [0, 1]")
    kept: list[Row] = []
    removed: list[Row] = []
    for row in rows:
        out = dict(row)
        reason = None
        for f in fields:
            if f != "problem" and f not in row:
                continue
            raw = text_of(row, f, "normalize")
            ratio = garbled_ratio(raw)
            if ratio > max_garbled_ratio:
                reason = f"garbled {f} ({ratio:.0%} bad characters > {max_garbled_ratio:.0%})"
                break
            out[f] = clean_text(raw, keep_newlines=keep_newlines)
        if reason is None and not clean_text(text_of(out, "problem", "normalize")):
            reason = "empty problem"
        if reason is None and require_answer and not str(row.get("answer") or "").strip():
            reason = "no answer"
        if reason is None:
            kept.append(out)
        else:
            removed.append(mark_removed(row, "normalize", reason))
    return kept, removed
