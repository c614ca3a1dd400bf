"""Pure-Python text surgery shared by rewards, eval and tasks: final part, ``<answer>`` blocks,
``\\boxed{}``, final-answer statements, Unicode normalisation, code blocks.

This is r1's one answer extractor (:func:`split_answer`, :func:`boxed_answer`); the rules are listed in
README ("Grading rules"). Nothing here imports math-verify or sympy, so it is cheap and can never hang
on a pathological expression; the expensive parsing happens in :mod:`r1cli.rewards.mathgrade` inside
the grading pool.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Literal

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
ANSWER_OPEN = "<answer>"
ANSWER_CLOSE = "</answer>"
_BOXED = re.compile(r"\\boxed\s*\{")
_ANSWER_BLOCK = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)
_PYTHON_TAGS = {"python", "py", "python3", "py3"}

AnswerKind = Literal["boxed", "boxes", "answer", "text"]

# Unicode that means ASCII to a grader: minus signs, full-width operators, and spaces that are only
# typographic (thin, no-break, figure, ideographic); zero-width characters are dropped. Every Unicode
# decimal digit (full-width ７, Arabic-Indic ٧, Devanagari ७, ...) becomes its ASCII digit.
_UNICODE_MAP = {
    0x2212: "-", 0xFE63: "-", 0xFF0D: "-", 0x2796: "-",  # minus signs
    0xFF0B: "+", 0xFF0E: ".", 0xFF0F: "/", 0xFF0C: ",", 0xFF08: "(", 0xFF09: ")",
    0x00A0: " ", 0x2007: " ", 0x2008: " ", 0x2009: " ", 0x200A: " ", 0x202F: " ", 0x205F: " ", 0x3000: " ",
    0x200B: "", 0x200C: "", 0x200D: "", 0x2060: "", 0xFEFF: "",
}


def normalize_unicode(text: str) -> str:
    """``"\\boxed{７}"`` -> ``"\\boxed{7}"``, ``"−3"`` (U+2212) -> ``"-3"``, ``"1\u202f000"`` -> ``"1 000"``.

    ASCII text is returned unchanged (and fast); letters, CJK and LaTeX are never touched.
    """
    if text.isascii():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if code < 128:
            out.append(ch)
        elif code in _UNICODE_MAP:
            out.append(_UNICODE_MAP[code])
        else:
            digit = unicodedata.decimal(ch, None)
            out.append(str(digit) if digit is not None else ch)
    return "".join(out)


def completion_text(completion: Any) -> str:
    """The text of one completion: a string, or the last message of a chat (TRL conversational form).

    ``[{"role": "assistant", "content": "x"}]`` -> ``"x"``; ``None`` -> ``""``.
    """
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content") or "")
    if isinstance(completion, (list, tuple)) and completion:
        return completion_text(completion[-1])
    return str(completion)


def final_part(text: str) -> str:
    """Everything after the last ``</think>``; the whole text when there is none."""
    cut = text.rfind(THINK_CLOSE)
    return text if cut == -1 else text[cut + len(THINK_CLOSE) :]


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (braces balanced), else None.

    ``"\\boxed{1} wait \\boxed{\\frac{1}{2}}"`` -> ``"\\frac{1}{2}"``. When the last box never
    closes (a completion cut off inside its final answer) the result is None: an earlier box was
    an intermediate result, not the answer.
    """
    starts = [m.end() for m in _BOXED.finditer(text)]
    if not starts:
        return None
    start, depth = starts[-1], 1
    for i in range(start, len(text)):
        ch = text[i]
        if ch == "{" and text[i - 1] != "\\":
            depth += 1
        elif ch == "}" and text[i - 1] != "\\":
            depth -= 1
            if depth == 0:
                return text[start:i].strip()
    return None


def top_boxes(text: str) -> list[tuple[int, int, str | None]]:
    """Every top-level ``\\boxed{...}`` of ``text`` in order, as ``(start, end, content)``; a box that
    never closes has content None and ends at the end of the text (nothing after it is scanned).

    ``"\\boxed{1}, \\boxed{\\boxed{2}}"`` -> ``[(0, 9, "1"), (11, 29, "\\boxed{2}")]``.
    """
    found: list[tuple[int, int, str | None]] = []
    pos = 0
    while True:
        match = _BOXED.search(text, pos)
        if match is None:
            return found
        start, depth, i = match.start(), 1, match.end()
        while i < len(text):
            ch = text[i]
            if ch == "{" and text[i - 1] != "\\":
                depth += 1
            elif ch == "}" and text[i - 1] != "\\":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        if depth:
            found.append((start, len(text), None))
            return found
        found.append((start, i + 1, text[match.end() : i].strip()))
        pos = i + 1


# What may stand between the boxes of one multi-part answer: "\\boxed{-2} and \\boxed{1}",
# "\\boxed{1}, \\boxed{2}", "$\\boxed{1}$ or $\\boxed{2}$", "\\boxed{a} \\quad \\boxed{b}".
_JOINER = re.compile(
    r"(?:\s|[,;.$&]|\\[,;: ]|\\quad|\\qquad|\\\\|\band\b|\bor\b"
    r"|\\text\s*\{\s*(?:and|or|,)?\s*\})*",
    re.IGNORECASE,
)

# A final-answer statement after the last box overrides it: "Therefore, the final answer is 12.",
# "**Final Answer:** 12", "The answer is $-3$". Its payload runs to the end of the line.
_STATEMENT = re.compile(r"(?:final\s+answer|the\s+answer)\s*(?:\*\*)?\s*(?:is\b\s*:?|:|=)\s*(?:\*\*)?[ \t]*([^\n]*)",
                        re.IGNORECASE)


_SENTENCE_END = re.compile(r"\.(?=\s|$)|[;!?]|,\s+(?=[A-Za-z])")
_MATH_SPANS = (("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
MAX_STATEMENT_CHARS = 80


def final_statement(text: str) -> str | None:
    """The payload of the last final-answer statement in ``text`` ("the final answer is 12." -> ``"12"``),
    or None. The payload is the math span right after the phrase (``$…$``, ``\\(…\\)``, ``\\[…\\]``),
    else the words up to the end of the sentence; it must hold a digit or LaTeX (``\\``) and be at most
    :data:`MAX_STATEMENT_CHARS` characters: "the answer is below" and a paragraph of prose state nothing."""
    matches = list(_STATEMENT.finditer(text))
    if not matches:
        return None
    payload = matches[-1].group(1).strip().strip("*").strip()
    for open_, close in _MATH_SPANS:
        end = payload.find(close, len(open_)) if payload.startswith(open_) else -1
        if end != -1:
            payload = payload[len(open_):end].strip()
            break
    else:
        cut = _SENTENCE_END.search(payload)
        payload = payload[:cut.start()] if cut else payload
    payload = re.sub(r"[\s.;,!]+$", "", payload)
    if not payload or len(payload) > MAX_STATEMENT_CHARS or not re.search(r"[0-9\\]", payload):
        return None
    return payload


def final_boxes(scope: str) -> tuple[str, ...] | None:
    """The boxes of the final answer: the last box and those just before it that only joiners (commas,
    "and", "or", ``$``, spacing) separate from it. None when the last box never closes or there is none.

    ``"\\boxed{-2} and \\boxed{1}"`` -> ``("-2", "1")``; ``"\\boxed{1} ... wait ... \\boxed{3}"`` -> ``("3",)``.
    """
    boxes = top_boxes(scope)
    if not boxes or boxes[-1][2] is None:
        return None
    run = [boxes[-1]]
    for prev in reversed(boxes[:-1]):
        between = scope[prev[1] : run[0][0]]
        if _JOINER.fullmatch(between) is None:
            break
        run.insert(0, prev)
    return tuple(box[2] or "" for box in run)


def answer_block(text: str) -> str | None:
    """Content of the last complete ``<answer>...</answer>`` block (stripped), else None."""
    blocks = _ANSWER_BLOCK.findall(text)
    return blocks[-1].strip() if blocks else None


def split_answer(text: str) -> tuple[AnswerKind, Any] | None:
    """Locate the final answer of a completion, as ``(kind, payload)``, or None if there is nothing.

    1. Unicode digits, minus signs and typographic spaces are normalised (:func:`normalize_unicode`);
    2. everything up to the last ``</think>`` is dropped;
    3. if an ``<answer>...</answer>`` block is present, only its content counts;
    4. the last ``\\boxed{}`` wins -> ``("boxed", content)``; if it never closes (the completion was
       cut off inside its answer) there is no answer, whatever boxes came before;
    5. boxes just before the last one, separated from it only by joiners (``,`` ``and`` ``or`` ``$``
       spacing), belong to the same answer -> ``("boxes", (part, part, ...))``;
    6. a final-answer statement after the last box (:func:`final_statement`) overrides the boxes ->
       ``("answer", payload)``;
    7. with no box: an answer block's content -> ``("answer", content)``, or the remaining text ->
       ``("text", rest)`` for math-verify to extract from. Empty payloads give None.
    """
    rest = final_part(normalize_unicode(text))
    block = answer_block(rest)
    scope = block if block is not None else rest
    if _BOXED.search(scope):
        parts = final_boxes(scope)
        if parts is None:
            return None
        after = scope[top_boxes(scope)[-1][1] :]
        stated = final_statement(after) if after.strip() else None
        if stated is not None:
            return ("answer", stated)
        if len(parts) > 1:
            return ("boxes", parts) if all(parts) else None
        return ("boxed", parts[0]) if parts[0] else None
    scope = scope.strip()
    if not scope:
        return None
    return ("answer" if block is not None else "text", scope)


def boxed_answer(text: str) -> str | None:
    """The boxed final answer as :func:`split_answer` locates it (a multi-part answer joined by ", "),
    or None when the final answer is not boxed or was cut off. What tasks and eval read."""
    located = split_answer(text)
    if located is None:
        return None
    kind, payload = located
    if kind == "boxes":
        return ", ".join(payload)
    return payload if kind == "boxed" else None


def last_code_block(text: str) -> str | None:
    """The last fenced Python block of the final part (```python / ```py), else the last unlabeled one."""
    rest = final_part(text)
    labelled, unlabeled = None, None
    for match in _FENCE.finditer(rest):
        tag = match.group(1).lower()
        if tag in _PYTHON_TAGS:
            labelled = match.group(2)
        elif not tag:
            unlabeled = match.group(2)
    code = labelled if labelled is not None else unlabeled
    return code if code is not None and code.strip() else None
