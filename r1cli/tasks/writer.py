"""Write a task's problems and SFT traces to disk: what ``r1 data make TASK`` does.

Output is byte-identical for the same task, knobs, ``n`` and ``seed``: records keep a fixed key
order, JSON is written with ``ensure_ascii=False`` and ``"\\n"`` line endings, each teacher trace is
drawn from an RNG seeded by the record id, and every file is written atomically.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from r1cli.tasks.base import Task


def sft_record(task: Task, record: dict[str, Any]) -> dict[str, Any]:
    """``{"id", "messages": [user prompt, assistant teacher trace]}`` for one problem record.

    The trace's randomness (e.g. whether it self-corrects) depends only on the record id.
    """
    rng = random.Random(f"teacher-{record['id']}")
    return {
        "id": record["id"],
        "messages": [
            {"role": "user", "content": task.prompt(record)},
            {"role": "assistant", "content": task.teacher(record, rng)},
        ],
    }


def chat_records(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` non-reasoning chat records for mixing into SFT data (R1's "non-reasoning" share): short
    instructions on a few digits answered directly, with no chain of thought.

    ``"Repeat: 4 9 2"`` -> ``"4 9 2"``; ``"Reverse: 4 9 2"`` -> ``"2 9 4"``. Deterministic in ``seed``.
    """
    rng = random.Random(f"chat-{seed}")
    out = []
    for i in range(n):
        digits = [str(rng.randrange(10)) for _ in range(rng.randint(2, 5))]
        verb = rng.choice(("Repeat", "Reverse"))
        answer = digits if verb == "Repeat" else digits[::-1]
        out.append({"id": f"chat-{seed}-{i}", "messages": [
            {"role": "user", "content": f"{verb}: {' '.join(digits)}"},
            {"role": "assistant", "content": " ".join(answer)}]})
    return out


def _jsonl(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def _write(path: Path, text: str) -> None:
    from r1cli.data.io import atomic_write_text

    atomic_write_text(path, text)


def write_task_data(
    task: Task | str,
    n: int,
    seed: int,
    out_dir: str | os.PathLike,
    *,
    held_out: int = 0,
) -> dict[str, Path]:
    """Generate ``n`` training problems (+ ``held_out`` distinct test problems) and write them.

    Files in ``out_dir``: ``problems.jsonl`` (problem records), ``sft.jsonl`` (chat SFT records
    with teacher traces), ``chat.jsonl`` (``n`` non-reasoning chat records, :func:`chat_records`), ``held_out.jsonl`` (test problems, only when ``held_out > 0``; none of
    their problem texts occur in the training set) and ``task.json`` (task name, knobs, n, seed).
    Returns ``{"problems", "sft", "chat", "held_out"?, "manifest"}`` -> path.
    """
    from r1cli.errors import R1Error
    from r1cli.tasks import get_task

    if isinstance(task, str):
        task = get_task(task)
    if n < 1 or held_out < 0:
        raise R1Error(f"data make: need --n >= 1 and held_out >= 0, got n={n}, held_out={held_out}")
    records = task.generate(n + held_out, seed)
    train, test = records[:n], records[n:]
    from r1cli.data.rundir import check_output_path

    out = check_output_path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"problems": out / "problems.jsonl", "sft": out / "sft.jsonl", "chat": out / "chat.jsonl"}
    _write(paths["problems"], _jsonl(train))
    _write(paths["sft"], _jsonl([sft_record(task, r) for r in train]))
    _write(paths["chat"], _jsonl(chat_records(n, seed)))
    if held_out:
        paths["held_out"] = out / "held_out.jsonl"
        _write(paths["held_out"], _jsonl(test))
    paths["manifest"] = out / "task.json"
    manifest = {"task": task.name, "params": task.params(), "n": n, "held_out": held_out, "seed": seed}
    _write(paths["manifest"], json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    return paths
