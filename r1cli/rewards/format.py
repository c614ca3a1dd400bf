"""Structure rewards: ``format``, ``code_format``, ``tag_count``, ``reasoning_steps`` (pure Python, per completion)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from r1cli.errors import R1Error, one_of
from r1cli.rewards.extract import (
    ANSWER_CLOSE,
    ANSWER_OPEN,
    THINK_CLOSE,
    THINK_OPEN,
    answer_block,
    completion_text,
    final_part,
)

FORMAT_STYLES = ("think", "think-answer")
_LEADING_THINK = re.compile(r"^\s*<think>")
_THINK_ANSWER = re.compile(r"^\s*<think>(.*)</think>\s*<answer>(.*)</answer>\s*$", re.DOTALL)


def _named(fn: Callable, name: str) -> Callable:
    fn.__name__ = name
    return fn


def think_format_ok(text: str) -> bool:
    """R1's native output: optional leading ``<think>``, exactly one ``</think>``, no other think
    tag, and a non-empty (non-whitespace) final part after ``</think>``."""
    if text.count(THINK_CLOSE) != 1:
        return False
    opens = text.count(THINK_OPEN)
    if opens > 1 or (opens == 1 and not _LEADING_THINK.match(text)):
        return False
    return bool(text.split(THINK_CLOSE, 1)[1].strip())


def think_answer_format_ok(text: str) -> bool:
    """R1-Zero template: ``<think>...</think>`` then ``<answer>...</answer>``, each tag exactly once,
    in that order, only whitespace around them, and a non-empty answer (the reasoning may be empty)."""
    if any(text.count(tag) != 1 for tag in (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)):
        return False
    match = _THINK_ANSWER.match(text)
    return bool(match and match.group(2).strip())


def make_format_reward(style: str = "think", prefilled_think: bool = False) -> Callable:
    """``format``: 1.0 when a completion has the expected tag structure, else 0.0.

    ``style="think"`` (R1) or ``"think-answer"`` (R1-Zero). ``prefilled_think=True`` when the chat
    template already ends the prompt with ``<think>``: the completion is judged as if it started
    with that tag (so it must not open a second one).
    """
    if style not in FORMAT_STYLES:
        raise R1Error(f"format reward: unknown style '{style}'; use {one_of(FORMAT_STYLES)}")
    check = think_format_ok if style == "think" else think_answer_format_ok
    prefix = THINK_OPEN if prefilled_think else ""

    def format_reward(completions: Sequence[Any], **columns: Any) -> list[float | None]:
        return [1.0 if check(prefix + completion_text(c)) else 0.0 for c in completions]

    return _named(format_reward, "format")


def has_fenced_code(text: str, language: str) -> bool:
    """Whether ``text`` holds a closed fenced block tagged ``language`` (```python ... ```)."""
    pattern = re.compile(r"```[ \t]*" + re.escape(language) + r"[ \t]*\n.*?```", re.DOTALL | re.IGNORECASE)
    return bool(pattern.search(text))


def make_code_format_reward(language: str = "python", style: str = "think-answer",
                            prefilled_think: bool = False) -> Callable:
    """``code_format``: 1.0 when a completion has the ``format`` reward's tag structure (``style``) and
    its answer (the ``<answer>`` block, or the final part after ``</think>`` for ``style="think"``)
    holds a closed fenced code block tagged ``language``; else 0.0 (open-r1's ``code_format``).
    """
    if style not in FORMAT_STYLES:
        raise R1Error(f"code_format reward: unknown style '{style}'; use {one_of(FORMAT_STYLES)}")
    lang = str(language).strip()
    if not re.fullmatch(r"[A-Za-z0-9_+#.-]+", lang):
        raise R1Error(f"code_format reward: language must be a fence tag such as python or cpp, got {language!r}")
    check = think_format_ok if style == "think" else think_answer_format_ok
    prefix = THINK_OPEN if prefilled_think else ""

    def score(text: str) -> float:
        text = prefix + text
        if not check(text):
            return 0.0
        answer = final_part(text) if style == "think" else (answer_block(text) or "")
        return 1.0 if has_fenced_code(answer, lang) else 0.0

    def code_format_reward(completions: Sequence[Any], **columns: Any) -> list[float | None]:
        return [score(completion_text(c)) for c in completions]

    return _named(code_format_reward, "code_format")


TAG_PIECES = ("<think>\n", "\n</think>\n", "\n<answer>\n", "\n</answer>")


def tag_count_score(text: str) -> float:
    """+0.25 for each of ``<think>\\n``, ``\\n</think>\\n``, ``\\n<answer>\\n``, ``\\n</answer>``
    occurring exactly once."""
    return 0.25 * sum(text.count(piece) == 1 for piece in TAG_PIECES)


def make_tag_count_reward(prefilled_think: bool = False) -> Callable:
    """``tag_count``: partial credit for the R1-Zero tags (open-r1's ``tag_count_reward``).

    ``prefilled_think=True`` prepends ``<think>\\n`` (the prompt already ends with it).
    """
    prefix = "<think>\n" if prefilled_think else ""

    def tag_count_reward(completions: Sequence[Any], **columns: Any) -> list[float | None]:
        return [tag_count_score(prefix + completion_text(c)) for c in completions]

    return _named(tag_count_reward, "tag_count")


_STEP_MARKERS = re.compile(
    r"Step\s+\d+\s*:"  # "Step 1:"
    r"|^[ \t]*\d+[.)][ \t]"  # "1. " or "2) " at a line start
    r"|^[ \t]*[-*\u2022][ \t]"  # bullet line: "- ", "* ", "• "
    r"|\b(?:First|Second|Next|Finally),",
    re.MULTILINE,
)


def count_steps(text: str) -> int:
    """Number of step markers: ``Step N:``, numbered items and bullets at line starts, and
    ``First,`` / ``Second,`` / ``Next,`` / ``Finally,``. Each match counts once."""
    return len(_STEP_MARKERS.findall(text))


def make_reasoning_steps_reward(target_steps: int = 3) -> Callable:
    """``reasoning_steps``: min(1, count / target_steps) with :func:`count_steps` (default 3)."""
    if not isinstance(target_steps, int) or target_steps < 1:
        raise R1Error(
            f"reasoning_steps reward: target_steps must be a positive integer, got {target_steps!r}"
        )

    def reasoning_steps_reward(completions: Sequence[Any], **columns: Any) -> list[float | None]:
        return [min(1.0, count_steps(completion_text(c)) / target_steps) for c in completions]

    return _named(reasoning_steps_reward, "reasoning_steps")
