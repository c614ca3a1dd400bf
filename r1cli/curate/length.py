"""The ``length`` step: token length of a text field under a tokenizer; keep rows within bounds.

``field="auto"`` measures, per row, its reference solution (the first non-empty of ``solution``,
``trace``, ``generation``, ``completion``) and falls back to ``problem``. Every row gets
``num_tokens``; kept when ``min_tokens <= num_tokens <= max_tokens`` (``max_tokens=None``: no upper
bound). Tokens are counted without special tokens.
"""

from __future__ import annotations

from typing import Any

from r1cli.curate.rows import Row, StepResult, mark_removed, text_of
from r1cli.curate.verify import SOLUTION_FIELDS
from r1cli.errors import R1Error


def load_tokenizer(tokenizer: Any) -> Any:
    """A tokenizer object as given, or ``AutoTokenizer.from_pretrained(path_or_name)`` for a string."""
    if not isinstance(tokenizer, str):
        return tokenizer
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(tokenizer)
    except (OSError, ValueError) as e:
        raise R1Error(f"length.tokenizer: cannot load tokenizer '{tokenizer}': {str(e).splitlines()[0][:200]} "
                      "(give a local model/tokenizer directory)") from None


def count_tokens(tokenizer: Any, texts: list[str]) -> list[int]:
    """Token counts of ``texts`` (no special tokens) for an HF tokenizer or a ``tokenizers.Tokenizer``."""
    if not texts:
        return []
    if hasattr(tokenizer, "encode_batch"):  # tokenizers.Tokenizer
        return [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    if callable(tokenizer):  # transformers tokenizers: batched call
        return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    return [len(tokenizer.encode(t)) for t in texts]


def length_text(row: Row, field: str) -> str:
    """The text ``length`` measures for ``row`` (see the module docstring for ``field="auto"``)."""
    if field != "auto":
        return text_of(row, field, "length")
    for name in SOLUTION_FIELDS:
        value = row.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return text_of(row, "problem", "length")


def length_rows(rows: list[Row], *, tokenizer: Any = None, field: str = "auto", min_tokens: int = 0,
                max_tokens: int | None = None) -> StepResult:
    """Add ``num_tokens`` and keep rows with ``min_tokens <= num_tokens <= max_tokens``."""
    if tokenizer is None:
        raise R1Error("length: needs a tokenizer (length.tokenizer: a model or tokenizer directory)")
    if min_tokens < 0 or (max_tokens is not None and max_tokens < min_tokens):
        raise R1Error(f"length: bounds [{min_tokens}, {max_tokens}] must satisfy 0 <= min_tokens <= max_tokens")
    tok = load_tokenizer(tokenizer)
    counts = count_tokens(tok, [length_text(r, field) for r in rows])
    kept, removed = [], []
    for row, n in zip(rows, counts, strict=True):
        out = {**row, "num_tokens": n}
        if n < min_tokens:
            removed.append(mark_removed(out, "length", f"too short: {n} tokens < min_tokens {min_tokens}"))
        elif max_tokens is not None and n > max_tokens:
            removed.append(mark_removed(out, "length", f"too long: {n} tokens > max_tokens {max_tokens}"))
        else:
            kept.append(out)
    return kept, removed
