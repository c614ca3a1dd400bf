"""Countdown (as in TinyZero): combine 3-4 numbers with + - * / to reach a target.

Problems are built backwards, so every one is solvable: draw numbers, build a random expression
tree over them, and read the target off its value. The checker never calls ``eval``: it parses the
answer with :mod:`ast`, accepts only integer literals, ``+ - * /`` and parentheses, evaluates with
exact :class:`~fractions.Fraction` arithmetic, and demands that each given number is used exactly
once.
"""

from __future__ import annotations

import ast
import random
import re
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from r1cli.tasks.base import MAX_DUPLICATE_DRAWS, Task, extract_boxed, slip, think_trace

_MAX_EXPR_CHARS = 200
_ALLOWED_CHARS = re.compile(r"^[0-9+\-*/() ]+$")
_LATEX_OPS = {"\\times": "*", "\\cdot": "*", "\\div": "/", "×": "*", "÷": "/", "−": "-"}
_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


def _evaluate(node: ast.AST, used: list[int]) -> Fraction:
    """Exact value of a whitelisted expression tree; appends every literal to ``used``.

    Raises ValueError for any node outside the whitelist, ZeroDivisionError for x/0.
    """
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, used)
    if isinstance(node, ast.Constant) and type(node.value) is int and node.value >= 0:
        used.append(node.value)
        return Fraction(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left = _evaluate(node.left, used)
        right = _evaluate(node.right, used)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        return left / right  # Fraction raises ZeroDivisionError on /0
    raise ValueError(f"disallowed syntax: {type(node).__name__}")


def check_expression(expr: str, numbers: list[int], target: int) -> bool:
    """True iff ``expr`` uses each of ``numbers`` exactly once and equals ``target`` exactly.

    Allowed: non-negative integer literals, binary ``+ - * /``, parentheses, spaces; LaTeX
    ``\\times``/``\\cdot``/``\\div`` are read as ``* * /``. A trailing ``= target`` is allowed.
    Anything else (names, calls, ``**``, ``//``, unary minus, decimals) -> False. Never evaluates
    Python code: the string is parsed with :func:`ast.parse` and walked over a whitelist.

    >>> check_expression("(7-3)*5", [3, 5, 7], 20)   # (7-3)*5 = 4*5 = 20
    True
    """
    if not isinstance(expr, str) or len(expr) > _MAX_EXPR_CHARS:
        return False
    text = expr.strip()
    for latex, op in _LATEX_OPS.items():
        text = text.replace(latex, op)
    text = text.replace("{", "(").replace("}", ")")
    if "=" in text:
        text, _, rhs = text.partition("=")
        if rhs.strip() != str(target):
            return False
    if not text.strip() or not _ALLOWED_CHARS.match(text):
        return False
    used: list[int] = []
    try:
        value = _evaluate(ast.parse(text.strip(), mode="eval"), used)
    except (SyntaxError, ValueError, ZeroDivisionError, RecursionError, MemoryError):
        return False
    try:
        given = Counter(int(x) for x in numbers)
    except (TypeError, ValueError):
        return False
    return Counter(used) == given and value == Fraction(int(target))


# --- generation ------------------------------------------------------------------------------

_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


@dataclass(frozen=True)
class _Node:
    """An expression tree node: a leaf number (op is None) or ``left op right``."""

    value: int
    op: str | None = None
    left: _Node | None = None
    right: _Node | None = None

    def render(self) -> str:
        """Infix text with only the parentheses precedence needs: ``(7-3)*5``."""
        if self.op is None:
            return str(self.value)
        assert self.left is not None and self.right is not None
        left, right = self.left.render(), self.right.render()
        prec = _PRECEDENCE[self.op]
        if self.left.op is not None and _PRECEDENCE[self.left.op] < prec:
            left = f"({left})"
        if self.right.op is not None and (
            _PRECEDENCE[self.right.op] < prec or (_PRECEDENCE[self.right.op] == prec and self.op in "-/")
        ):
            right = f"({right})"
        return f"{left}{self.op}{right}"

    def steps(self) -> list[tuple[int, str, int, int]]:
        """Post-order list of ``(a, op, b, a op b)``: the order a person would compute it."""
        if self.op is None:
            return []
        assert self.left is not None and self.right is not None
        return [
            *self.left.steps(),
            *self.right.steps(),
            (self.left.value, self.op, self.right.value, self.value),
        ]


def _combine(a: _Node, b: _Node, rng: random.Random) -> _Node | None:
    """Join two subtrees with a random op whose result stays a positive integer, else None."""
    ops = ["+", "-", "*", "/"]
    rng.shuffle(ops)
    for op in ops:
        x, y = a.value, b.value
        if op == "+":
            return _Node(x + y, op, a, b)
        if op == "-" and x > y:
            return _Node(x - y, op, a, b)
        if op == "-" and y > x:
            return _Node(y - x, op, b, a)
        if op == "*" and x * y <= 1000:
            return _Node(x * y, op, a, b)
        if op == "/" and y > 1 and x % y == 0:
            return _Node(x // y, op, a, b)
        if op == "/" and x > 1 and y % x == 0:
            return _Node(y // x, op, b, a)
    return None


@dataclass(frozen=True)
class CountdownTask(Task):
    """Countdown: reach ``target`` from ``numbers`` (each used once) with ``+ - * /``.

    Knobs: how many numbers (``min_numbers``..``max_numbers``), their range (1..``max_number``)
    and the target range (``min_target``..``max_target``). The boxed answer is the expression.
    """

    name: str = "countdown"
    min_numbers: int = 3
    max_numbers: int = 4
    max_number: int = 20
    min_target: int = 1
    max_target: int = 100
    self_correct_prob: float = 0.15

    def __post_init__(self) -> None:
        _validate(self)

    def _one(self, rng: random.Random) -> _Node:
        """Draw one solvable problem tree (rejection sampling on the target range)."""
        while True:
            count = rng.randint(self.min_numbers, self.max_numbers)
            nodes = [_Node(rng.randint(1, self.max_number)) for _ in range(count)]
            while len(nodes) > 1:
                i, j = rng.sample(range(len(nodes)), 2)
                joined = _combine(nodes[i], nodes[j], rng)
                if joined is None:
                    break
                nodes = [n for k, n in enumerate(nodes) if k not in (i, j)] + [joined]
            if len(nodes) == 1 and self.min_target <= nodes[0].value <= self.max_target:
                return nodes[0]

    def generate(self, n: int, seed: int) -> list[dict[str, Any]]:
        rng = random.Random(f"{self.name}-{seed}")
        records: list[dict[str, Any]] = []
        seen: set[str] = set()
        misses = 0  # consecutive duplicate draws: the problem space is (nearly) exhausted
        while len(records) < n:
            if misses > MAX_DUPLICATE_DRAWS:
                raise _exhausted(self.name, n, len(records))
            tree = self._one(rng)
            numbers = _leaves(tree)
            rng.shuffle(numbers)
            problem = f"Using {', '.join(map(str, numbers))} once each with + - * /, make {tree.value}."
            if problem in seen:
                misses += 1
                continue
            misses = 0
            seen.add(problem)
            records.append(
                {
                    "id": f"{self.name}-{seed}-{len(records)}",
                    "problem": problem,
                    "answer": tree.render(),
                    "numbers": numbers,
                    "target": tree.value,
                }
            )
        return records

    def check(self, completion_text: str, record: dict[str, Any]) -> bool:
        boxed = extract_boxed(completion_text)
        return boxed is not None and check_expression(boxed, record["numbers"], record["target"])

    def teacher(self, record: dict[str, Any], rng: random.Random) -> str:
        tree = _parse_tree(record["answer"])
        left = list(record["numbers"])
        lines = [f"Target {record['target']}."]
        steps = tree.steps()
        wrong_at = rng.randrange(len(steps)) if rng.random() < self.self_correct_prob else -1
        for k, (a, op, b, value) in enumerate(steps):
            if k == wrong_at:
                lines.append(f"{a}{op}{b}={slip(value, rng)}. Wait, {a}{op}{b}={value}.")
            else:
                lines.append(f"{a}{op}{b}={value}.")
            left.remove(a)
            left.remove(b)
            left.append(value)
            if len(left) > 1:
                lines[-1] += f" Left: {' '.join(map(str, left))}."
        return think_trace(lines, record["answer"])


def _leaves(tree: _Node) -> list[int]:
    """The numbers at the leaves of ``tree``, left to right."""
    if tree.op is None:
        return [tree.value]
    assert tree.left is not None and tree.right is not None
    return _leaves(tree.left) + _leaves(tree.right)


def _parse_tree(expr: str) -> _Node:
    """Rebuild the tree of a reference answer (trusted input written by :meth:`generate`)."""

    def walk(node: ast.AST) -> _Node:
        if isinstance(node, ast.Constant):
            return _Node(int(node.value))
        assert isinstance(node, ast.BinOp)
        left, right = walk(node.left), walk(node.right)
        op = _OPS[type(node.op)]
        a, b = Fraction(left.value), Fraction(right.value)
        value = a + b if op == "+" else a - b if op == "-" else a * b if op == "*" else a / b
        return _Node(int(value), op, left, right)

    return walk(ast.parse(expr, mode="eval").body)


def _validate(task: Any) -> None:
    """Reject impossible knob settings with a one-line R1Error."""
    from r1cli.errors import R1Error

    if not 2 <= task.min_numbers <= task.max_numbers <= 6:
        raise R1Error(
            f"countdown: need 2 <= min_numbers <= max_numbers <= 6, got {task.min_numbers}..{task.max_numbers}"
        )
    if task.max_number < 2 or task.min_target < 0 or task.max_target < max(task.min_target, 1):
        raise R1Error(
            "countdown: need max_number >= 2 and 0 <= min_target <= max_target, "
            f"got max_number={task.max_number}, targets {task.min_target}..{task.max_target}"
        )
    if not 0.0 <= task.self_correct_prob <= 1.0:
        raise R1Error(f"countdown: self_correct_prob must be in [0, 1], got {task.self_correct_prob}")


def _exhausted(name: str, n: int, got: int) -> Exception:
    from r1cli.errors import R1Error

    return R1Error(
        f"{name}: only {got} distinct problems found for --n {n}; lower --n or widen the task's ranges"
    )
