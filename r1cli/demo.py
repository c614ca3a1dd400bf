"""The embedded default: every stage of the recipe on the tiny world (`r1 demo`)."""

from __future__ import annotations

import time
from pathlib import Path

from r1cli.console import err


def run_demo(output_dir: Path, *, task: str = "arith", quick: bool = False, seed: int = 0) -> dict:
    from r1cli.models.tiny import init_tiny
    from r1cli.tasks import write_task_data

    t0 = time.time()
    output_dir = Path(output_dir)
    err.rule("[bold]r1 demo[/bold]: the tiny world")
    n_train = 200 if quick else 4000
    data = write_task_data(task, n_train, seed, output_dir / "data", held_out=50 if quick else 200)
    err.print(f"[green]1. data[/green]   {task}: {n_train} problems + teacher traces -> {output_dir / 'data'}")
    model_dir = init_tiny(output_dir / "model-init", seed=seed)
    err.print(f"[green]2. model[/green]  tiny Qwen2 -> {model_dir}")
    summary = {"data": {k: str(v) for k, v in data.items()}, "model": str(model_dir),
               "seconds": round(time.time() - t0, 1)}
    err.print(f"[bold]done[/bold] in {summary['seconds']} s; artefacts under {output_dir}")
    return summary
