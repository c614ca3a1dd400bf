"""`r1 pipeline`: a recipe of stages (the R1 recipe: cold start → RL → rejection sampling → SFT → RL) as one
resumable chain."""

from __future__ import annotations

from typing import Annotated

import typer

from r1cli.commands.common import (
    ConfigOpt,
    OutputDirOpt,
    OverwriteOpt,
    PresetOpt,
    PrintConfigOpt,
    SetOpt,
    build_config,
    refuse_multi_process,
)


def pipeline(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan (stages, inputs, outputs, status) and exit."
                                          )] = False,
    start_from: Annotated[str | None, typer.Option(
        "--from", help="Restart from this stage: it and every later stage are discarded and run again.")] = None,
    only: Annotated[str | None, typer.Option(
        "--only", help="Run this stage alone (its inputs must be done); used by r1 slurm pipeline.")] = None,
    preset: PresetOpt = None,
    config: ConfigOpt = None,
    sets: SetOpt = None,
    print_config: PrintConfigOpt = False,
    output_dir: OutputDirOpt = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Run the stages of a pipeline preset or config in order, each in OUTPUT_DIR/<stage>; a rerun skips
    finished stages, restarts changed ones and resumes an interrupted one; writes report.md.

    Examples: r1 pipeline --preset tiny-r1 --dry-run;  r1 pipeline --preset tiny-r1 -o runs/tiny-r1;
    r1 pipeline --preset tiny-r1 --set stages.cold_start.train.max_steps=200 --from cold_start
    """
    from r1cli.config.pipeline import PipelineConfig
    from r1cli.errors import R1Error
    from r1cli.pipeline.runner import check_stage_flags, describe, run_plan
    from r1cli.pipeline.spec import build_plan

    cfg = build_config(PipelineConfig, "pipeline", preset=preset, config=config, sets=sets,
                       flags={"output_dir": output_dir}, print_config=print_config)
    plan = build_plan(cfg)
    check_stage_flags(plan, start_from=start_from, only=only)
    if dry_run:
        for row in describe(plan):
            reason = f" ({row['reason']})" if row["reason"] else ""
            typer.echo(f"{row['stage']} [{row['kind']}] {row['status']}{reason}")
            typer.echo(f"    inputs: {', '.join(row['inputs']) or '-'}")
            typer.echo(f"    output: {row['output']}")
        return
    if only is not None and start_from is not None:
        raise R1Error("--only runs one stage and --from restarts a tail of the pipeline: give one of them")
    if only is None:
        refuse_multi_process("pipeline", "run one stage per launch with --only STAGE (r1 slurm pipeline does)")
    run_plan(plan, start_from=start_from, only=only, overwrite=overwrite)
