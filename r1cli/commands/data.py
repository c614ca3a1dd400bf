"""`r1 data make TASK`: write a built-in tiny-world dataset (problems + SFT traces)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)


@app.command("make")
def make(
    task: Annotated[str, typer.Argument(help="Built-in task: countdown or arith.")],
    n: Annotated[int, typer.Option("--n", min=1, help="Number of training problems.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, byte-identical files.")] = 0,
    held_out: Annotated[int, typer.Option("--held-out", min=0, help="Extra problems kept apart for eval.")] = 200,
    output_dir: Annotated[Path, typer.Option("--output-dir", "-o", help="Where to write.")] = Path("runs/data"),
    param: Annotated[list[str] | None, typer.Option(
        "--param", help="A task knob: --param lang_switch_prob=0.3 (value parsed as YAML). Repeatable.")] = None,
) -> None:
    """Write problems.jsonl, sft.jsonl (teacher traces), chat.jsonl and held_out.jsonl for TASK."""
    import yaml

    from r1cli.console import err
    from r1cli.errors import R1Error
    from r1cli.tasks import get_task, write_task_data

    knobs = {}
    for item in param or []:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise R1Error(f"--param '{item}': expected KEY=VALUE, e.g. --param lang_switch_prob=0.3")
        knobs[key.strip()] = yaml.safe_load(value)
    paths = write_task_data(get_task(task, **knobs), n, seed, output_dir, held_out=held_out)
    for what, path in paths.items():
        err.print(f"[green]wrote[/green] {what}: {path}")
