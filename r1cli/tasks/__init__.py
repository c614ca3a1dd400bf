"""Built-in verifiable tasks (the tiny world): generators, answer checkers and teachers.

``TASKS`` maps a name to a :class:`Task` with its default knobs; :func:`get_task` looks one up (and
optionally changes knobs), raising :class:`~r1cli.errors.R1Error` with a "did you mean" for a typo.
Pure Python: importing this never imports torch.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from r1cli.errors import R1Error, did_you_mean, one_of
from r1cli.tasks.arith import ArithTask
from r1cli.tasks.base import Task, extract_boxed
from r1cli.tasks.countdown import CountdownTask, check_expression
from r1cli.tasks.writer import sft_record, write_task_data

TASKS: dict[str, Task] = {
    "arith": ArithTask(),
    "countdown": CountdownTask(),
}


def get_task(name: str, **params: Any) -> Task:
    """The task called ``name``; keyword ``params`` replace its difficulty knobs.

    >>> get_task("arith", max_operands=2).max_operands
    2
    """
    key = str(name).strip().lower()
    if key not in TASKS:
        raise R1Error(f"unknown task '{name}'{did_you_mean(key, TASKS)}; {one_of(TASKS)}")
    task = TASKS[key]
    if not params:
        return task
    knobs = [f.name for f in dataclasses.fields(task) if f.name != "name"]  # type: ignore[arg-type]
    for param in params:
        if param not in knobs:
            raise R1Error(
                f"task '{key}' has no parameter '{param}'{did_you_mean(param, knobs)}; {one_of(knobs)}"
            )
    defaults = {f.name: getattr(task, f.name) for f in dataclasses.fields(task)}  # type: ignore[arg-type]
    for param, value in params.items():
        default = defaults[param]
        numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and
              (isinstance(default, float) or isinstance(value, int))) if numeric else \
            isinstance(value, type(default)) or (isinstance(default, tuple) and isinstance(value, list))
        if not ok:
            raise R1Error(f"task '{key}': parameter '{param}' expects {type(default).__name__} "
                          f"(default {default!r}), got {value!r}")
    return dataclasses.replace(task, **params)  # type: ignore[type-var]


__all__ = [
    "TASKS",
    "ArithTask",
    "CountdownTask",
    "Task",
    "check_expression",
    "extract_boxed",
    "get_task",
    "sft_record",
    "write_task_data",
]
