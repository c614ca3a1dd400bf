"""`r1 slurm pipeline`: one sbatch script per stage, each job waiting for the previous one (afterok).

Stage ``NAME`` runs ``r1 pipeline ARGS --only NAME``: the same plan everywhere (the pipeline arguments
after ``--`` are resolved here first, so a mistake is one line before any script is written), each
stage's marker written by its own job, and a failed or cancelled job stops the chain (its successors
are cancelled by ``--kill-on-invalid-dep``). Training stages (sft, grpo, ...) get the training shape
(torchrun or accelerate over ``--nodes`` × ``--nproc-per-node``); the others run as one process.
Resubmitting the chain after a failure reruns only what is not done: a finished stage's job sees its
marker and returns at once.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from r1cli.errors import R1Error
from r1cli.slurm.scripts import PlannedScript, SlurmJob, train_script

_ALLOWED = "--preset, --config, --set, --output-dir/-o"


def pipeline_plan(args: list[str]):
    """The resolved plan of the pipeline that ``r1 pipeline ARGS`` would run."""
    from r1cli.config.core import resolve_config
    from r1cli.config.pipeline import PipelineConfig
    from r1cli.pipeline.spec import build_plan

    parser = argparse.ArgumentParser(prog="r1 pipeline", add_help=False, exit_on_error=False)
    parser.add_argument("--preset")
    parser.add_argument("--config")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--output-dir", "-o")
    try:
        known, rest = parser.parse_known_args(args)
    except argparse.ArgumentError as e:
        raise R1Error(f"r1 slurm pipeline: {e}") from None
    if rest:
        raise R1Error(f"r1 slurm pipeline: '{rest[0]}' after `--` is not for a pipeline chain; it takes {_ALLOWED} "
                      "(each job adds --only STAGE itself)")
    cfg = resolve_config(PipelineConfig, command="pipeline", preset=known.preset, config_file=known.config,
                         sets=known.set, flags={"output_dir": known.output_dir})
    return build_plan(cfg)


def plan_pipeline_scripts(job: SlurmJob, script: Path) -> list[PlannedScript]:
    """One script per stage, ``<stem>-<NN>-<stage>.sbatch``, each after the one before it."""
    if job.array is not None:
        raise R1Error("r1 slurm pipeline: --array shards one command; a pipeline's stages are chained jobs")
    plan = pipeline_plan(job.args)
    script = Path(script)
    stem = script.name[: -len(script.suffix)] if script.suffix else script.name
    out: list[PlannedScript] = []
    for stage in plan.stages:
        training = stage.kind.train
        stage_job = dataclasses.replace(
            job, args=[*job.args, "--only", stage.name], job_name=f"{job.job_name}-{stage.name}", training=training,
            nodes=job.nodes if training else 1, launcher=job.launcher if training else "none")
        path = script.with_name(f"{stem}-{stage.index + 1:02d}-{stage.name}{script.suffix or '.sbatch'}")
        text = train_script(stage_job, dependent=bool(out))
        out.append(PlannedScript(path, text, len(out) - 1 if out else None))
    return out
