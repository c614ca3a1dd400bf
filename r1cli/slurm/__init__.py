"""`r1 slurm`: sbatch scripts for any r1 command (:mod:`.scripts`), their submission (:mod:`.submit`)
and the sharded difficulty step of `r1 curate` (:mod:`.curate`, run inside array jobs)."""

from r1cli.slurm.scripts import (
    ARRAY_COMMANDS,
    COMMANDS,
    LAUNCHERS,
    TRAIN_COMMANDS,
    PlannedScript,
    SlurmJob,
    array_script,
    chain_commands,
    eval_after_script,
    merge_script,
    plan_scripts,
    resolve_accelerate_config,
    train_script,
)
from r1cli.slurm.submit import job_states, sbatch, submit_plan, wait_for

__all__ = [
    "ARRAY_COMMANDS", "COMMANDS", "LAUNCHERS", "TRAIN_COMMANDS", "PlannedScript", "SlurmJob", "array_script",
    "chain_commands", "eval_after_script", "job_states", "merge_script", "plan_scripts",
    "resolve_accelerate_config", "sbatch", "submit_plan", "train_script", "wait_for",
]
