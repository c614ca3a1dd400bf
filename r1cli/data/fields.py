"""Type checks of record fields, with one-line errors naming where, which field, expected and found.

``where`` is the record's location as the readers give it (``data.jsonl:3``, ``data.csv:4``,
``data.parquet row 3``). Types are named as JSON names them (string, integer, number, boolean, null,
list, object), since that is what a user sees in the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from r1cli.errors import R1Error, did_you_mean


def type_name(value: Any) -> str:
    """The JSON name of ``value``'s type (``bool`` before ``int``: True is an int in Python)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _shown(value: Any) -> str:
    """A short rendering of ``value`` for an error message (JSON, cut at 40 characters)."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def wrong_type(where: str, field: str, expected: str, value: Any, hint: str = "") -> R1Error:
    """``data.jsonl:3: field 'answer': expected a string or a number, found a list ["2"]``."""
    found = type_name(value)
    article = "an" if found[0] in "aeiou" else "a"
    shown = "" if value is None else f" {_shown(value)}"
    return R1Error(f"{where}: field '{field}': expected {expected}, found {article} {found}{shown}{hint}")


def missing(where: str, field: str, record: dict, hint: str = "") -> R1Error:
    """``data.jsonl:3: no field 'problem' (did you mean 'problme'?); fields are: id, problme``."""
    names = [str(k) for k in record]
    leaf = field.rsplit(".", 1)[-1]  # "messages[1].content" is matched as "content"
    return R1Error(f"{where}: no field '{field}'{did_you_mean(leaf, names)}; fields are: "
                   f"{', '.join(names) or '(none)'}{hint}")


def close_name(field: str, record: Iterable[Any]) -> bool:
    """Whether ``record`` has a key that looks like a misspelling of ``field``."""
    return bool(did_you_mean(field, [str(k) for k in record]))


def as_text(value: Any, where: str, field: str, *, hint: str = "") -> str:
    """``value`` when it is a string; anything else (null included) is an R1Error."""
    if isinstance(value, str):
        return value
    raise wrong_type(where, field, "a string", value, hint)


def as_answer(value: Any, where: str, field: str) -> str | None:
    """A gold answer as text: strings as they are, numbers as their text (``42`` and ``42.0`` -> "42",
    ``0.5`` -> "0.5"), null stays None ("no gold"); a boolean, list or object is an R1Error."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise wrong_type(where, field, "a string or a number", value, " (write the gold answer as text)")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    hint = " (keep one gold answer per problem, as text)" if isinstance(value, (list, tuple)) else ""
    raise wrong_type(where, field, "a string or a number", value, hint)


def as_id(value: Any, where: str, field: str) -> str | None:
    """A record id as text: strings and integers (``7`` -> "7", ``7.0`` -> "7"), null/"" -> None (the
    caller hashes the problem); a boolean, fraction, list or object is an R1Error."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise wrong_type(where, field, "a string or an integer", value)
