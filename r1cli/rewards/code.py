"""The ``code`` reward: run the completion's last Python block against the row's tests, sandboxed.

Tests come from the row's ``tests`` column (stdin/stdout pairs) and/or ``test_code`` (Python with
``assert`` statements); rows with neither score ``None``. Accepted shapes:

- ``tests``: ``[{"input": "1 2\\n", "output": "3\\n"}, ...]``, ``{"inputs": [...], "outputs": [...]}``,
  ``[["1 2\\n", "3\\n"], ...]``, or any of these as a JSON string. Each pair is one run; it passes
  when the program exits 0 within the limits and its stdout equals the expected output up to
  trailing whitespace on each line and trailing blank lines.
- ``test_code``: a string whose top-level ``assert`` statements are the tests (other statements are
  setup; with no assert the whole string is one test), or a list of strings (one test each).
  With an ``entry_point`` column and a ``check`` function in the code (HumanEval style), the call
  ``check(<entry_point>)`` is the test. All of them run in one sandboxed process after the program.

Reward: passed / total, or with ``binary=True`` 1.0 only when every test passes. No code block: 0.0.
"""

from __future__ import annotations

import ast
import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from r1cli.errors import R1Error
from r1cli.rewards.extract import completion_text, last_code_block
from r1cli.rewards.pool import available_cpus
from r1cli.rewards.sandbox import SandboxLimits, run_python, sandbox_choice

logger = logging.getLogger(__name__)


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "\n".join(str(v) for v in value) + "\n"
    return "" if value is None else str(value)


def parse_io_tests(value: Any) -> list[tuple[str, str]]:
    """Normalise a ``tests`` cell to ``[(stdin, expected_stdout)]`` (see module docstring)."""
    if value is None:
        return []
    if isinstance(value, str):
        if not value.strip():
            return []
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise R1Error(
                f"code reward: the 'tests' column holds a string that is not JSON ({exc.msg})"
            ) from None
    if isinstance(value, dict):
        inputs = value.get("inputs", value.get("input"))
        outputs = value.get("outputs", value.get("output"))
        if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs):
            raise R1Error("code reward: a 'tests' object needs equal-length lists 'inputs' and 'outputs'")
        return [(_text(i), _text(o)) for i, o in zip(inputs, outputs, strict=True)]
    if isinstance(value, list):
        pairs = []
        for item in value:
            if isinstance(item, dict) and "input" in item and "output" in item:
                pairs.append((_text(item["input"]), _text(item["output"])))
            elif isinstance(item, (list, tuple)) and len(item) == 2:
                pairs.append((_text(item[0]), _text(item[1])))
            else:
                raise R1Error(
                    "code reward: each test must be {'input': ..., 'output': ...} or an [input, output] pair"
                )
        return pairs
    raise R1Error(f"code reward: cannot read tests of type {type(value).__name__}")


def split_test_code(test_code: Any, entry_point: Any = None) -> tuple[list[tuple[str, int]], int]:
    """Split ``test_code`` into sandbox units ``[(source, index)]`` (index -1 = setup) and the test count."""
    if test_code is None or (isinstance(test_code, str) and not test_code.strip()):
        return [], 0
    if isinstance(test_code, (list, tuple)):
        return [(str(src), i) for i, src in enumerate(test_code)], len(test_code)
    source = str(test_code)
    if entry_point and "def check" in source:
        return [(source, -1), (f"check({entry_point})", 0)], 1
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise R1Error(f"code reward: test_code does not parse (line {exc.lineno}: {exc.msg})") from None
    if not any(isinstance(node, ast.Assert) for node in tree.body):
        return [(source, 0)], 1
    units, count = [], 0
    for node in tree.body:
        segment = ast.get_source_segment(source, node) or ast.unparse(node)
        if isinstance(node, ast.Assert):
            units.append((segment, count))
            count += 1
        else:
            units.append((segment, -1))
    return units, count


def output_matches(actual: str, expected: str) -> bool:
    """Equal up to trailing whitespace on each line and trailing blank lines."""

    def norm(s: str) -> list[str]:
        lines = [line.rstrip() for line in s.replace("\r\n", "\n").split("\n")]
        while lines and not lines[-1]:
            lines.pop()
        return lines

    return norm(actual) == norm(expected)


def make_code_reward(
    binary: bool = False,
    timeout_s: float = 5.0,
    memory_mb: int = 1024,
    max_processes: int = 16,
    max_output_bytes: int = 1 << 20,
    workers: int | None = None,
    python: str | None = None,
    fs_isolation: bool = True,
) -> Callable:
    """``code``: fraction of the row's tests the completion's code passes, in the sandbox.

    ``timeout_s`` bounds each run (wall clock and CPU seconds); ``memory_mb`` the address space;
    ``max_processes`` processes and threads; ``max_output_bytes`` stdout/stderr and any file written;
    ``workers`` concurrent runs (None: every core); ``python`` the interpreter (probed by default).
    ``fs_isolation``: the filesystem wall (bubblewrap namespaces: the code sees only its scratch dir
    and a read-only Python); ``false`` (or ``R1_SANDBOX_FS_ISOLATION=0``) runs without it and warns,
    for kernels that forbid user namespaces. The sandbox is probed here, so a missing ``bwrap`` or a
    kernel without user namespaces fails before any sampling.
    """
    if not timeout_s > 0:
        raise R1Error(f"code reward: timeout_s must be > 0, got {timeout_s!r}")
    for name, value in (
        ("memory_mb", memory_mb),
        ("max_processes", max_processes),
        ("max_output_bytes", max_output_bytes),
    ):
        if not isinstance(value, int) or value < 1:
            raise R1Error(f"code reward: {name} must be a positive integer, got {value!r}")
    limits = SandboxLimits(
        timeout_s=float(timeout_s),
        memory_mb=memory_mb,
        max_processes=max_processes,
        max_output_bytes=max_output_bytes,
    )
    sandbox_choice(python, fs_isolation)

    def code_reward(completions: Sequence[Any], **columns: Any) -> list[float | None]:
        n = len(completions)
        tests_col = columns.get("tests") or [None] * n
        code_col = columns.get("test_code") or [None] * n
        entry_col = columns.get("entry_point") or [None] * n
        if columns.get("tests") is None and columns.get("test_code") is None:
            raise R1Error(
                "reward 'code' needs a 'tests' column (stdin/stdout pairs) or a 'test_code' column (asserts)"
            )
        for name, col in (("tests", tests_col), ("test_code", code_col), ("entry_point", entry_col)):
            if len(col) != n:
                raise R1Error(f"reward 'code': column '{name}' has {len(col)} values for {n} completions")
        jobs: list[tuple[int, str, Any]] = []  # (row, program, (stdin, expected) or (units, count))
        totals: list[int] = []
        programs: list[str | None] = []
        for row in range(n):
            try:
                io_pairs = parse_io_tests(tests_col[row])
                units, unit_count = split_test_code(code_col[row], entry_col[row])
            except R1Error as exc:  # one malformed row cannot be judged; the batch goes on
                logger.warning("code reward: row %d cannot be judged: %s", row, exc)
                io_pairs, units, unit_count = [], [], 0
            totals.append(len(io_pairs) + unit_count)
            program = last_code_block(completion_text(completions[row]))
            programs.append(program)
            if program is None or totals[row] == 0:
                continue
            jobs.extend((row, program, pair) for pair in io_pairs)
            if unit_count:
                jobs.append((row, program, (units, unit_count)))
        passed = [0] * n

        def run(job: tuple[int, str, Any]) -> tuple[int, int]:
            row, program, spec = job
            if isinstance(spec[0], str):  # one stdin/stdout pair
                res = run_python(program, stdin=spec[0], limits=limits, python=python, fs_isolation=fs_isolation)
                ok = res.returncode == 0 and not res.timed_out and output_matches(res.stdout, spec[1])
                return row, int(ok)
            units, count = spec
            res = run_python(program, units=units, limits=limits, python=python, fs_isolation=fs_isolation)
            return row, sum(1 for index, ok in res.unit_passed.items() if ok and 0 <= index < count)

        with ThreadPoolExecutor(max_workers=workers or available_cpus()) as pool:
            for row, count in pool.map(run, jobs):
                passed[row] += count
        out: list[float | None] = []
        for row in range(n):
            if totals[row] == 0:
                out.append(None)
            elif programs[row] is None:
                out.append(0.0)
            elif binary:
                out.append(1.0 if passed[row] == totals[row] else 0.0)
            else:
                out.append(passed[row] / totals[row])
        return out

    code_reward.__name__ = "code"
    return code_reward
