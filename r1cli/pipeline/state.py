"""Stage markers and the status of each stage: done, stale or pending.

``<output_dir>/.stages/<name>.json`` is written (atomically) when a stage has finished, its held-out
evaluation included: ``{"key", "kind", "config", "seconds", "summary", "eval"}``. A stage is

- ``done`` when its marker holds its current key (and its output exists);
- ``stale`` when its marker holds another key: its config, a file it reads or a stage it reads
  changed (the reason names the config keys that differ, or the input);
- ``pending`` when it has no marker; ``resumes`` when it was started (``<name>.started``) with the
  current key and left work behind, which its command's own resume continues.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r1cli.pipeline.spec import Plan, Stage

MARKERS = ".stages"


@dataclass
class Status:
    state: str  # done | stale | pending | resumes
    reason: str = ""


def eval_dir(plan: Plan, stage: Stage) -> Path:
    """Where a stage's held-out evaluation (``r1 eval`` output) goes."""
    return plan.out / "heldout" / stage.name


def marker_path(plan: Plan, name: str, suffix: str = ".json") -> Path:
    return plan.out / MARKERS / f"{name}{suffix}"


def read_marker(plan: Plan, name: str, suffix: str = ".json") -> dict | None:
    try:
        data = json.loads(marker_path(plan, name, suffix).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_marker(plan: Plan, name: str, data: dict, suffix: str = ".json") -> None:
    from r1cli.data.io import atomic_write_json

    atomic_write_json(marker_path(plan, name, suffix), data)


def remove_markers(plan: Plan, name: str) -> None:
    for suffix in (".json", ".started"):
        marker_path(plan, name, suffix).unlink(missing_ok=True)


def _why_stale(stage: Stage, old: dict, statuses: dict[str, Status], plan: Plan) -> str:
    from r1cli.data.rundir import config_differences

    diffs = config_differences(old.get("config") or {}, stage.config_data())
    if diffs:
        more = f" (+{len(diffs) - 2} more)" if len(diffs) > 2 else ""
        return "config changed: " + "; ".join(diffs[:2]) + more
    changed = [d for d in stage.deps if statuses[d].state != "done"
               or (read_marker(plan, d) or {}).get("key") != (old.get("deps") or {}).get(d)]
    if changed:
        return f"stage '{changed[0]}' changed"
    files = [f for f, h in stage.files.items() if (old.get("files") or {}).get(f) != h]
    if files:
        return f"input {files[0]} changed"
    return "an input changed"


def statuses(plan: Plan) -> dict[str, Status]:
    """The status of every stage, in order (a stage downstream of a changed one is stale through its key)."""
    out: dict[str, Status] = {}
    for stage in plan.stages:
        marker = read_marker(plan, stage.name)
        if marker is not None and marker.get("key") == stage.key:
            if stage.output.exists():
                out[stage.name] = Status("done")
            else:
                out[stage.name] = Status("pending", f"its output {stage.output} is missing")
        elif marker is not None:
            out[stage.name] = Status("stale", _why_stale(stage, marker, out, plan))
        else:
            started = read_marker(plan, stage.name, ".started")
            if started is not None and started.get("key") == stage.key and stage.dir.exists():
                out[stage.name] = Status("resumes", "interrupted: its command resumes it")
            elif started is not None and stage.dir.exists():
                out[stage.name] = Status("stale", "started with another config or input; restarts clean")
            else:
                out[stage.name] = Status("pending")
    return out


def json_safe(value: Any) -> Any:
    """A summary dict reduced to what JSON holds (paths as strings, other objects dropped)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items() if json_safe(v) is not _DROP}
    if isinstance(value, (list, tuple)):
        return [x for x in (json_safe(v) for v in value) if x is not _DROP]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Path):
        return str(value)
    return _DROP


_DROP = object()
