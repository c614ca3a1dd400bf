"""The ``countdown`` reward: an arithmetic expression that must hit the target (TinyZero's task).

The expression is the content of the ``<answer>`` block (after the last ``</think>``), else the last
``\\boxed{}``. It is checked by :func:`r1cli.tasks.countdown.check_expression`: parsed with
:mod:`ast` over a whitelist (integer literals, ``+ - * /``, parentheses) - never ``eval`` - each
given number used exactly once, exact rational arithmetic; division by zero scores 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from r1cli.rewards.columns import require_column
from r1cli.rewards.extract import answer_block, completion_text, final_part, last_boxed

_HINT = "countdown rows carry 'numbers' and 'target' (see r1 data countdown)"


def countdown_expression(text: str) -> str | None:
    """The expression a completion proposes: ``<answer>`` content (or a box inside it), else the last box."""
    rest = final_part(text)
    block = answer_block(rest)
    if block is not None:
        boxed = last_boxed(block)
        return boxed if boxed is not None else block
    return last_boxed(rest)


def make_countdown_reward() -> Callable:
    """``countdown``: 1.0 when the expression uses every number once and equals the target, else 0.0."""
    from r1cli.tasks.countdown import check_expression

    def countdown_reward(completions: Sequence[Any], **columns: Any) -> list[float | None]:
        n = len(completions)
        numbers = require_column("countdown", "numbers", columns.get("numbers"), n, _HINT)
        targets = require_column("countdown", "target", columns.get("target"), n, _HINT)
        out: list[float | None] = []
        for completion, nums, target in zip(completions, numbers, targets, strict=True):
            try:
                nums, target = [int(x) for x in nums], int(target)
            except (TypeError, ValueError):  # a row without usable numbers/target cannot be judged
                out.append(None)
                continue
            expr = countdown_expression(completion_text(completion))
            out.append(1.0 if expr is not None and check_expression(expr, nums, target) else 0.0)
        return out

    countdown_reward.__name__ = "countdown"
    return countdown_reward
