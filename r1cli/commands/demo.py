"""`r1 demo`: the whole pipeline on the built-in tiny world, on CPU, in minutes (`r1 pipeline --preset demo`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

# `--quick`: every stage shrunk to seconds (a smoke test of the real code paths, not a result)
QUICK = ["stages.data.n=200", "stages.sft.train.max_steps=20", "stages.sft.train.save_steps=10",
         "stages.grpo.train.max_steps=2", "stages.grpo.grpo.prompts_per_step=4", "report.limit=20"]


def demo(
    output_dir: Annotated[Path, typer.Option("--output-dir", "-o", help="Where the demo writes.")] = Path("runs/demo"),
    task: Annotated[str, typer.Option("--task", help="Tiny-world task (arith or countdown).")] = "arith",
    quick: Annotated[bool, typer.Option("--quick", help="A much shorter run (for smoke tests).")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the data, the initial weights and training.")] = 0,
) -> None:
    """Make data -> tiny model -> SFT -> GRPO, each model scored on held-out problems; writes report.md.
    The same as `r1 pipeline --preset demo` (r1cli/presets/pipeline/demo.yaml)."""
    from r1cli.config.core import resolve_config
    from r1cli.config.pipeline import PipelineConfig
    from r1cli.pipeline.runner import run_plan
    from r1cli.pipeline.spec import build_plan

    sets = [f"stages.data.task={task}", f"report.benchmark={task}", f"stages.data.seed={seed}",
            f"stages.init.seed={seed}", f"stages.sft.train.seed={seed}", f"stages.grpo.train.seed={seed}"]
    cfg = resolve_config(PipelineConfig, command="pipeline", preset="demo", sets=sets + (QUICK if quick else []),
                         flags={"output_dir": str(output_dir)})
    run_plan(build_plan(cfg))
