"""Pure-Python text surgery shared by the rewards: final part, ``<answer>`` blocks, ``\\boxed{}``, code.

Nothing here imports math-verify or sympy, so it is cheap and can never hang on a pathological
expression; the expensive parsing happens in :mod:`r1cli.rewards.mathgrade` inside the grading pool.
"""

from __future__ import annotations

import re
from typing import Any, Literal

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
ANSWER_OPEN = "<answer>"
ANSWER_CLOSE = "</answer>"
_BOXED = re.compile(r"\\boxed\s*\{")
_ANSWER_BLOCK = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)
_PYTHON_TAGS = {"python", "py", "python3", "py3"}

AnswerKind = Literal["boxed", "answer", "text"]


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


def answer_block(text: str) -> str | None:
    """Content of the last complete ``<answer>...</answer>`` block (stripped), else None."""
    blocks = _ANSWER_BLOCK.findall(text)
    return blocks[-1].strip() if blocks else None


def split_answer(text: str) -> tuple[AnswerKind, str] | None:
    """Locate the final answer of a completion, as ``(kind, payload)``, or None if there is nothing.

    1. drop everything up to the last ``</think>``;
    2. if an ``<answer>...</answer>`` block is present, keep only its content;
    3. the last ``\\boxed{}`` wins -> ``("boxed", content)``; if it never closes (the completion
       was cut off inside its answer) there is no answer;
    4. else an answer block's content -> ``("answer", content)``, or the remaining text ->
       ``("text", rest)`` for math-verify to extract from. Empty payloads give None.
    """
    rest = final_part(text)
    block = answer_block(rest)
    scope = block if block is not None else rest
    if _BOXED.search(scope):
        boxed = last_boxed(scope)
        return ("boxed", boxed) if boxed else None
    scope = scope.strip()
    if not scope:
        return None
    return ("answer" if block is not None else "text", scope)


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
