"""Rich consoles: logs and progress go to stderr, results to stdout (DESIGN.md §5)."""

from __future__ import annotations

from rich.console import Console

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def info(msg: str) -> None:
    err.print(msg)


def emit_json(obj: object) -> None:
    """One JSON line on stdout for machines (plain print: rich would wrap it at the terminal width)."""
    import json
    import sys

    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()
