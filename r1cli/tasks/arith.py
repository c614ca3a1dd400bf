"""Multi-step integer arithmetic: "What is 12 + 3 - 7?" -> 8.

The teacher computes one operation per line, in precedence order, exactly as the checker would.
The defaults (2-3 operands from 0..15, ``+``/``-``, no negative intermediates) are tuned for the
CPU demo. Measured: SFT of a fresh ~0.8M tiny model on 4,000 teacher traces (batch 64, AdamW lr
3e-3, 30 warmup steps, cosine to 10% over 400 steps) reached 22-27% / 32% / 45-47% greedy accuracy
on 200 held-out problems at steps 300 / 350 / 400 (two seeds); 400 steps cost 168 s of one-thread
CPU time, about 90 s on 2 idle cores. Operands from 0..9 saturate (>80% by step 300); 0..20
reached 25% and 0..30 12% at step 400 (in 500-step runs); 1-2 digit operands stayed near 6%.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from r1cli.tasks.base import MAX_DUPLICATE_DRAWS, Task, extract_boxed, slip, think_trace

_INT = re.compile(r"^[+-]?\d+$")

# With lang_switch_prob > 0 every step line is narrated by its operation in English ("add 3+4=7"), and
# with that probability a trace switches to Chinese from a random step on ("加 7+2=9"): the language
# mixing of R1-Zero's chains of thought (R1 v1 §2.3.2) in a form the tiny model can learn.
NARRATION = {"en": {"+": "add", "-": "minus", "*": "times"}, "zh": {"+": "加", "-": "减", "*": "乘"}}


def parse_int(text: str) -> int | None:
    """An integer answer as written in a box: ``"39"``, ``"-4"``, ``"1,234"``, ``"$39$"``; else None."""
    cleaned = text.strip().strip("$").replace(",", "").replace(" ", "").replace("{", "").replace("}", "")
    if not _INT.match(cleaned):
        return None
    return int(cleaned)


def solve_steps(operands: list[int], ops: list[str]) -> list[tuple[int, str, int, int]]:
    """The steps ``(a, op, b, result)`` that evaluate ``operands`` joined by ``ops``.

    Multiplications first (left to right), then ``+``/``-`` left to right:
    ``[2, 3, 4], ["+", "*"]`` -> ``[(3, "*", 4, 12), (2, "+", 12, 14)]``.
    """
    values, pending = list(operands), list(ops)
    steps: list[tuple[int, str, int, int]] = []
    for level in ("*", "+-"):
        k = 0
        while k < len(pending):
            if pending[k] in level:
                a, op, b = values[k], pending[k], values[k + 1]
                result = a * b if op == "*" else a + b if op == "+" else a - b
                steps.append((a, op, b, result))
                values[k : k + 2] = [result]
                del pending[k]
            else:
                k += 1
    return steps


@dataclass(frozen=True)
class ArithTask(Task):
    """Integer expressions of ``min_operands``..``max_operands`` operands with ``ops``.

    Each operand is drawn uniformly from ``min_value``..``max_value``. With ``allow_negative=False``
    every intermediate result is >= 0. ``self_correct_prob``: share of traces with one slip and its
    "Wait," correction; ``lang_switch_prob``: see :data:`NARRATION` (0, the default, keeps bare steps).
    """

    name: str = "arith"
    min_operands: int = 2
    max_operands: int = 3
    min_value: int = 0
    max_value: int = 15
    ops: str = "+-"
    allow_negative: bool = False
    self_correct_prob: float = 0.15
    lang_switch_prob: float = 0.0

    def __post_init__(self) -> None:
        from r1cli.errors import R1Error

        if not 2 <= self.min_operands <= self.max_operands <= 8:
            raise R1Error(
                f"arith: need 2 <= min_operands <= max_operands <= 8, got {self.min_operands}..{self.max_operands}"
            )
        if not 0 <= self.min_value <= self.max_value <= 10**9:
            raise R1Error(
                f"arith: need 0 <= min_value <= max_value <= 10**9, got {self.min_value}..{self.max_value}"
            )
        if not self.ops or set(self.ops) - set("+-*"):
            raise R1Error(f"arith: ops must be a non-empty string over '+-*', got {self.ops!r}")
        if not 0.0 <= self.self_correct_prob <= 1.0:
            raise R1Error(f"arith: self_correct_prob must be in [0, 1], got {self.self_correct_prob}")
        if not 0.0 <= self.lang_switch_prob <= 1.0:
            raise R1Error(f"arith: lang_switch_prob must be in [0, 1], got {self.lang_switch_prob}")

    def _one(self, rng: random.Random) -> tuple[list[int], list[str], list[tuple[int, str, int, int]]]:
        """Draw operands and ops until every intermediate result is allowed."""
        while True:
            count = rng.randint(self.min_operands, self.max_operands)
            operands = [rng.randint(self.min_value, self.max_value) for _ in range(count)]
            ops = [rng.choice(self.ops) for _ in range(count - 1)]
            steps = solve_steps(operands, ops)
            if self.allow_negative or all(result >= 0 for *_, result in steps):
                return operands, ops, steps

    def generate(self, n: int, seed: int) -> list[dict[str, Any]]:
        from r1cli.errors import R1Error

        rng = random.Random(f"{self.name}-{seed}")
        records: list[dict[str, Any]] = []
        seen: set[str] = set()
        misses = 0  # consecutive duplicate draws: the problem space is (nearly) exhausted
        while len(records) < n:
            if misses > MAX_DUPLICATE_DRAWS:
                raise R1Error(
                    f"arith: only {len(records)} distinct problems found for --n {n}; "
                    "lower --n or widen the operand range"
                )
            operands, ops, steps = self._one(rng)
            expression = str(operands[0]) + "".join(
                f" {op} {x}" for op, x in zip(ops, operands[1:], strict=True)
            )
            problem = f"What is {expression}?"
            if problem in seen:
                misses += 1
                continue
            misses = 0
            seen.add(problem)
            records.append(
                {
                    "id": f"{self.name}-{seed}-{len(records)}",
                    "problem": problem,
                    "answer": str(steps[-1][3]),
                    "operands": operands,
                    "ops": ops,
                }
            )
        return records

    def check(self, completion_text: str, record: dict[str, Any]) -> bool:
        boxed = extract_boxed(completion_text)
        value = parse_int(boxed) if boxed is not None else None
        return value is not None and value == int(record["answer"])

    def teacher(self, record: dict[str, Any], rng: random.Random) -> str:
        steps = solve_steps(list(record["operands"]), list(record["ops"]))
        wrong_at = rng.randrange(len(steps)) if rng.random() < self.self_correct_prob else -1
        switch_at = len(steps)  # the step from which the narration is Chinese (none by default)
        if self.lang_switch_prob > 0 and rng.random() < self.lang_switch_prob:
            switch_at = rng.randrange(len(steps))
        lines = []
        for k, (a, op, b, result) in enumerate(steps):
            if k == wrong_at:
                line = f"{a}{op}{b}={slip(result, rng)}. Wait, {a}{op}{b}={result}."
            else:
                line = f"{a}{op}{b}={result}"
            if self.lang_switch_prob > 0:
                line = f"{NARRATION['zh' if k >= switch_at else 'en'][op]} {line}"
            lines.append(line)
        return think_trace(lines, str(steps[-1][3]))
