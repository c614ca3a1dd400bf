"""Rich consoles: logs and progress go to stderr, results to stdout (DESIGN.md §5)."""

from __future__ import annotations

from rich.console import Console

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def info(msg: str) -> None:
    err.print(msg)
