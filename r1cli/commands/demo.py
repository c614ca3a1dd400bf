"""`r1 demo`: the whole pipeline on the built-in tiny world, on CPU, in minutes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def demo(
    output_dir: Annotated[Path, typer.Option("--output-dir", "-o", help="Where the demo writes.")] = Path("runs/demo"),
    task: Annotated[str, typer.Option("--task", help="Tiny-world task.")] = "arith",
    quick: Annotated[bool, typer.Option("--quick", help="A much shorter run (for smoke tests).")] = False,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Make data -> SFT -> eval -> GRPO -> eval -> report.md, on the tiny model."""
    from r1cli.data.rundir import check_output_path
    from r1cli.demo import run_demo

    check_output_path(output_dir)

    run_demo(output_dir, task=task, quick=quick, seed=seed)
