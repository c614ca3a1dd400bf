"""What every built-in task shares: the :class:`Task` interface and the ``\\boxed{}`` extractor.

A task owns its problems, its prompt, its answer checker and its teacher (nanochat style): the
generator, the checker and the trace writer live side by side so they cannot drift apart.
Everything here is pure Python (no torch), so ``r1 --help`` and the reward functions stay cheap.
"""

from __future__ import annotations

import random
from typing import Any

BOXED = "\\boxed{"
# A generator gives up (R1Error) after this many duplicate problems in a row.
MAX_DUPLICATE_DRAWS = 2000


def extract_boxed(text: str) -> str | None:
    """The boxed final answer, by r1's one extractor (:func:`r1cli.rewards.extract.boxed_answer`).

    ``"so \\boxed{(7-3)*5}."`` -> ``"(7-3)*5"``; a completion cut off inside its last box -> None
    (an earlier box was an intermediate result, not the answer).
    """
    from r1cli.rewards.extract import boxed_answer

    return boxed_answer(text)


def slip(value: int, rng: random.Random) -> int:
    """A plausible wrong value for a self-correction: ``value`` off by 1..3 or 10, never equal."""
    delta = rng.choice([-10, -3, -2, -1, 1, 2, 3, 10])
    wrong = value + delta
    return wrong if wrong >= 0 or value < 0 else value + abs(delta)


class Task:
    """A verifiable task: problems, the prompt the model sees, an answer checker and a teacher.

    Subclasses are frozen dataclasses whose fields are the difficulty knobs; ``name`` is the
    registry key. Records are ``{"id", "problem", "answer", ...task columns}`` (DESIGN.md §3).
    """

    name: str = ""

    def generate(self, n: int, seed: int) -> list[dict[str, Any]]:
        """``n`` distinct problems, deterministic in ``seed``; ``generate(n, s)`` is a prefix of
        ``generate(n + m, s)``. Ids are ``f"{name}-{seed}-{i}"``."""
        raise NotImplementedError

    def check(self, completion_text: str, record: dict[str, Any]) -> bool:
        """True when the last ``\\boxed{}`` of ``completion_text`` solves ``record``."""
        raise NotImplementedError

    def teacher(self, record: dict[str, Any], rng: random.Random) -> str:
        """A step-by-step ``<think>`` trace ending in ``\\boxed{ANSWER}``, sometimes with a
        "Wait, ..." self-correction, drawn with ``rng``."""
        raise NotImplementedError

    def prompt(self, record: dict[str, Any]) -> str:
        """The user-turn text for ``record`` (short: the demo model is tiny)."""
        return str(record["problem"])

    def params(self) -> dict[str, Any]:
        """The difficulty knobs as a plain dict (written beside generated data)."""
        import dataclasses

        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "name"}  # type: ignore[arg-type]


def think_trace(lines: list[str], answer: str) -> str:
    """Assemble the teacher format: ``<think>\\n<lines>\\n</think>\\n\\boxed{answer}``."""
    return "<think>\n" + "\n".join(lines) + "\n</think>\n" + BOXED + answer + "}"
