"""math-verify, used the way that avoids its known false negatives (runs inside the grading pool).

Rules (see ../shared/reference/eval-and-curation.md §1):

- **Gold** with no math environment is wrapped as ``$\\boxed{...}$`` before parsing: math-verify
  reads a bare ``3\\sqrt{13}`` as ``3`` and a bare ``\\dfrac{9}{7}`` as nothing. A currency ``\\$``
  is not an environment (``\\$18.90`` is wrapped and parses as 18.9). A gold that has an
  environment but yields nothing is retried wrapped, with the stray ``$`` removed. A gold that
  still parses to nothing makes the verdict ``None`` (cannot judge).
- **Prediction**: the caller has already cut the final answer out (:func:`split_answer`); boxed
  content is re-wrapped in ``\\boxed{}`` (so ``<answer>7</answer>`` works), an ``<answer>`` block
  without a box is tried both wrapped and as free text, anything else is left to math-verify's
  own extraction.
- ``verify(gold, prediction)``, in that order (it is asymmetric).

math-verify's own ``signal.alarm`` timeouts are switched off: the pool worker bounds the whole item
with its own timer, and the parent kills a worker whose item overruns (nested powers such as
``5^{5^{5^{5^5}}}`` ignore signals while sympy computes in C).
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

_ENV = re.compile(r"(?<!\\)\$|\\\(|\\\[|\\boxed\s*\{")
_STRAY_DOLLAR = re.compile(r"(?<!\\)\$")


def _mv() -> Any:
    """Import math-verify lazily (it pulls in sympy, ~0.5 s) and silence its timeout warnings."""
    import math_verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    return math_verify


def gold_sources(gold: str) -> list[str]:
    """The strings to try parsing for a gold answer, in order (pure string work, no parsing).

    ``"3\\sqrt{13}"`` -> ``["$\\boxed{3\\sqrt{13}}$"]``; ``"$x$"`` -> ``["$x$", "$\\boxed{x}$"]``.
    """
    g = gold.strip()
    if not g:
        return []
    wrapped = "$\\boxed{" + _STRAY_DOLLAR.sub("", g).strip() + "}$"
    if _ENV.search(g):
        return [g, wrapped]
    return [wrapped]


@functools.lru_cache(maxsize=4096)
def parse_gold(gold: str) -> tuple:
    """Parsed gold candidates (math-verify's list, as a tuple); ``()`` when the gold cannot be parsed."""
    mv = _mv()
    for source in gold_sources(gold):
        parsed = mv.parse(source, parsing_timeout=None)
        if parsed:
            return tuple(parsed)
    return ()


@functools.cache
def _pred_configs() -> list:
    mv = _mv()
    return [mv.LatexExtractionConfig(boxed_match_priority=0), mv.ExprExtractionConfig()]


def parse_prediction(kind: str | None, payload: str | None) -> list:
    """Parsed candidates for a prediction located by :func:`r1cli.rewards.extract.split_answer`."""
    if kind is None or payload is None:
        return []
    mv = _mv()
    if kind == "boxed":
        return list(mv.parse("\\boxed{" + payload + "}", _pred_configs(), parsing_timeout=None))
    if kind == "answer":
        boxed = mv.parse("\\boxed{" + payload + "}", _pred_configs(), parsing_timeout=None)
        free = mv.parse(payload, parsing_timeout=None)
        return list(boxed) + list(free)
    return list(mv.parse(payload, parsing_timeout=None))


def grade(gold: str, kind: str | None, payload: str | None) -> float | None:
    """1.0 if the prediction verifies against the gold, 0.0 if not, None if the gold does not parse."""
    gold_parsed = parse_gold(gold)
    if not gold_parsed:
        return None
    pred = parse_prediction(kind, payload)
    if not pred:
        return 0.0
    ok = _mv().verify(list(gold_parsed), pred, timeout_seconds=None)
    return 1.0 if ok else 0.0


def extract_string(text: str) -> str | None:
    """The answer string math-verify extracts from free text (its second list item), else None."""
    parsed = _mv().parse(text, parsing_timeout=None)
    for item in reversed(parsed):
        if isinstance(item, str) and item.strip():
            return item.strip()
    return None


def answer_string(kind: str, payload: str) -> str | None:
    """The answer as a string for reports and voting (``kind``/``payload`` from ``split_answer``).

    An ``<answer>`` block that parses as a formula when boxed is kept whole (``x = 12``); prose
    (``The answer is 12``) and other text go through math-verify's extraction (``12``).
    """
    if kind == "boxed":
        return payload
    if kind == "answer":
        boxed = _mv().parse("\\boxed{" + payload + "}", _pred_configs(), parsing_timeout=None)
        if boxed and not isinstance(boxed[0], str) and not _looks_like_prose(payload):
            return payload
        return extract_string(payload) or payload
    return extract_string(payload)


def _looks_like_prose(text: str) -> bool:
    """Two or more plain words of 3+ letters outside LaTeX commands and ``\\text{}`` (``The answer is``)."""
    bare = re.sub(r"\\(text|textbf|mathrm|textnormal|mbox)\s*\{[^{}]*\}|\\[A-Za-z]+", " ", text)
    return len(re.findall(r"(?<![A-Za-z])[A-Za-z]{3,}(?![A-Za-z])", bare)) >= 2


def equivalent(reference: str, other: str) -> bool:
    """Whether answer ``other`` verifies against answer ``reference`` (reference read as a gold)."""
    return grade(reference, "boxed", other) == 1.0
