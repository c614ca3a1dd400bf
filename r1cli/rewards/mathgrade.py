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
- **Multi-part answers** (``("boxes", parts)`` from :func:`split_answer`): the gold is split into its
  parts (:func:`gold_parts`); the prediction is right iff it has exactly as many parts and they match,
  as a set for lists of solutions, sets and unions, in order for tuples and ordered pairs. A
  single-valued gold against several boxed parts is wrong (hedging earns nothing).
- **Fast path** (:func:`fast_grade`): when gold and prediction are both exact numbers (integers,
  decimals, ``a/b``, ``\\frac{a}{b}``), they are compared in exact rational arithmetic without
  math-verify; cases where math-verify's float rounding could matter go to math-verify.

math-verify's own ``signal.alarm`` timeouts are switched off: the pool worker bounds the whole item
with its own timer, and the parent kills a worker whose item overruns (nested powers such as
``5^{5^{5^{5^5}}}`` ignore signals while sympy computes in C).
"""

from __future__ import annotations

import functools
import logging
import re
from fractions import Fraction
from typing import Any

from r1cli.rewards.extract import normalize_unicode

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
    g = latex_fixups(gold.strip())
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


# Sentence punctuation written inside a math span just before it closes ("$\\frac{1}{3}.$", "\\[x=2,\\]"):
# math-verify 0.9 then reads a fragment ("$2^{10}.$" as 2) or nothing; the punctuation is dropped first.
_PUNCT_BEFORE_CLOSE = re.compile(r"\s*[.,;]\s*(\$\$|\$|\\\]|\\\))(?=\s|$|[.,;:!?)])")


def strip_math_punctuation(text: str) -> str:
    """``"The answer is $\\frac{1}{3}.$"`` -> ``"The answer is $\\frac{1}{3}$"`` (closing delimiters only)."""
    return _PUNCT_BEFORE_CLOSE.sub(r"\1", text)


_UPRIGHT_E = re.compile(r"\\(?:mathrm|operatorname|text)\s*\{\s*e\s*\}")


def latex_fixups(text: str) -> str:
    """Spellings math-verify 0.9 stops parsing at, rewritten to ones it reads: an upright Euler number
    ``\\mathrm{e}`` (it read ``1 - \\frac{1}{\\mathrm{e}}`` as 1) becomes ``e``."""
    return _UPRIGHT_E.sub("e", text) if "{" in text else text


def parse_prediction(kind: str | None, payload: str | None) -> list:
    """Parsed candidates for a prediction located by :func:`r1cli.rewards.extract.split_answer`."""
    if kind is None or payload is None:
        return []
    if kind == "boxes":  # only reached through grade_parts, part by part
        raise ValueError("parse_prediction takes one part at a time")
    payload = latex_fixups(payload)
    if kind in ("answer", "text"):
        payload = strip_math_punctuation(payload)
    mv = _mv()
    if kind == "boxed":
        return list(mv.parse("\\boxed{" + payload + "}", _pred_configs(), parsing_timeout=None))
    if kind == "answer":
        boxed = mv.parse("\\boxed{" + payload + "}", _pred_configs(), parsing_timeout=None)
        free = mv.parse(payload, parsing_timeout=None)
        return list(boxed) + list(free)
    return list(mv.parse(payload, parsing_timeout=None))


_INT_OR_DEC = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_NUMBER = re.compile(rf"^{_INT_OR_DEC}$")
_SLASH = re.compile(r"^([+-]?\d+)\s*/\s*(\d+)$")
_LATEX_FRAC = re.compile(r"^([+-]?)\\[dt]?frac\s*\{\s*([+-]?\d+)\s*\}\s*\{\s*(\d+)\s*\}$")
_DECIMALS = 6  # math-verify rounds floats to 6 places (float_rounding): decimals finer than that go to it


def exact_number(text: str) -> tuple[Fraction, bool] | None:
    """``(value, is_decimal)`` for an answer that is exactly a number, else None (pure, no parsing).

    ``"-12"`` -> (-12, False); ``"0.25"`` -> (1/4, True); ``"\\frac{3}{4}"``, ``"-\\dfrac{3}{4}"``,
    ``"3/4"`` -> fractions; ``"$7$"`` -> 7. Anything else (``"1,000"``, ``"x=3"``, ``"2\\sqrt{3}"``) -> None.
    """
    t = text.strip()
    if t.startswith("$") and t.endswith("$") and len(t) > 1:
        t = t.strip("$").strip()
    if len(t) > 40:
        return None
    if _NUMBER.match(t):
        if t.count(".") and len(t.split(".", 1)[1]) > _DECIMALS:
            return None
        return Fraction(t), "." in t
    m = _SLASH.match(t)
    if m:
        num, den = int(m.group(1)), int(m.group(2))
        return (Fraction(num, den), False) if den else None
    m = _LATEX_FRAC.match(t)
    if m:
        num, den = int(m.group(2)), int(m.group(3))
        if not den:
            return None
        value = Fraction(num, den)
        return (-value if m.group(1) == "-" else value), False
    return None


def _fits_decimals(value: Fraction) -> bool:
    return (10**_DECIMALS) % value.denominator == 0


def fast_grade(gold: str, kind: str | None, payload: Any) -> float | None:
    """The verdict in exact arithmetic when both sides are plain numbers, else None (use math-verify).

    A decimal compared with a value that has no exact 6-place decimal form (``0.333333`` vs ``1/3``)
    is left to math-verify, whose rounding decides that case.
    """
    if kind not in ("boxed", "answer") or not isinstance(payload, str):
        return None
    g = exact_number(normalize_unicode(gold))
    if g is None:
        return None
    p = exact_number(payload)
    if p is None:
        return None
    (gv, g_dec), (pv, p_dec) = g, p
    if (g_dec or p_dec) and not (_fits_decimals(gv) and _fits_decimals(pv)):
        return None
    return 1.0 if gv == pv else 0.0


_THOUSANDS = re.compile(r"^\d{1,3}(?:,\d{3})+$")
_AND_OR = re.compile(r"\s*(?:\\text\s*\{\s*(?:and|or)\s*\}|\band\b|\bor\b)\s*", re.IGNORECASE)


def _top_level_split(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` where no bracket or brace is open (``\\{``/``\\}`` count as braces)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        if text.startswith(sep, i) and depth == 0:
            parts.append(text[start:i])
            i += len(sep)
            start = i
            continue
        ch = text[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _strip_env(text: str) -> str:
    t = text.strip()
    if t.startswith("$") and t.endswith("$") and len(t) > 1:
        t = t.strip("$").strip()
    for a, b in (("\\(", "\\)"), ("\\[", "\\]")):
        if t.startswith(a) and t.endswith(b):
            t = t[len(a) : -len(b)].strip()
    if t.startswith("\\boxed{") and t.endswith("}"):
        t = t[len("\\boxed{") : -1].strip()
    return re.sub(r"\\(?:left|right)(?=\s*[()\[\]{}|.\\])", "", t)


def _closing(text: str, open_at: int) -> int:
    """Index of the bracket that closes the one at ``open_at`` (any of ``( [ {``), or -1."""
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] in "([{":
            depth += 1
        elif text[i] in ")]}":
            depth -= 1
            if depth == 0:
                return i
    return -1


def gold_parts(gold: str) -> tuple[str, list[str]] | None:
    """How a gold with several parts splits: ``("set", parts)`` or ``("ordered", parts)``; None when it
    is single-valued.

    ``"1, 2"`` / ``"\\{1,2\\}"`` / ``"-2 and 1"`` / ``"(-\\infty,0)\\cup(1,\\infty)"`` -> set;
    ``"(1, 2)"`` (a tuple or ordered pair) -> ordered; ``"1,234"`` (thousands) and ``"7"`` -> None.
    """
    t = normalize_unicode(gold)
    if "\\boxed" in t:  # a gold written as a worked solution: its (last) boxed answer is the gold
        from r1cli.rewards.extract import last_boxed

        t = last_boxed(t) or t
    t = _strip_env(t)
    if not t or _THOUSANDS.match(t):
        return None
    if t.startswith("\\{") and t.endswith("\\}"):
        inner = _top_level_split(t[2:-2], ",")
        return ("set", inner) if len(inner) > 1 and all(inner) else None
    if "\\cup" in t:
        pieces = _top_level_split(t, "\\cup")
        if len(pieces) > 1 and all(pieces):
            return "set", pieces
    commas = _top_level_split(t, ",")
    if len(commas) > 1 and all(commas):
        return "set", commas
    joined = [p for p in _AND_OR.split(t)]
    if len(joined) > 1 and all(p.strip() for p in joined):
        return "set", [p.strip() for p in joined]
    if t[0] in "([" and _closing(t, 0) == len(t) - 1:
        inner = _top_level_split(t[1:-1], ",")
        if len(inner) > 1 and all(inner):
            return "ordered", inner
    return None


def _part_ok(gold: str, part: str) -> bool:
    fast = fast_grade(gold, "boxed", part)
    if fast is not None:
        return fast == 1.0
    return _grade_single(gold, "boxed", part) == 1.0


def grade_parts(gold: str, parts: tuple[str, ...]) -> float:
    """Several boxed parts against a gold (see the module docstring): 1.0 or 0.0."""
    split = gold_parts(gold)
    if split is None or len(split[1]) != len(parts):
        return 0.0
    how, golds = split
    if how == "ordered":
        return 1.0 if all(_part_ok(g, p) for g, p in zip(golds, parts, strict=True)) else 0.0
    unused = list(parts)
    for g in golds:
        hit = next((i for i, p in enumerate(unused) if _part_ok(g, p)), None)
        if hit is None:
            return 0.0
        unused.pop(hit)
    return 1.0


def _grade_single(gold: str, kind: str | None, payload: str | None) -> float | None:
    gold_parsed = parse_gold(gold)
    if not gold_parsed:
        return None
    pred = parse_prediction(kind, payload)
    if not pred:
        return 0.0
    ok = _mv().verify(list(gold_parsed), pred, timeout_seconds=None)
    return 1.0 if ok else 0.0


def grade(gold: str, kind: str | None, payload: Any) -> float | None:
    """1.0 if the prediction verifies against the gold, 0.0 if not, None if the gold does not parse."""
    gold = normalize_unicode(gold)
    fast = fast_grade(gold, kind, payload)
    if fast is not None:
        return fast
    if kind == "boxes":
        if not parse_gold(gold):
            return None
        return grade_parts(gold, tuple(payload))
    return _grade_single(gold, kind, payload)


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
    if kind == "boxes":
        return ", ".join(payload)
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
