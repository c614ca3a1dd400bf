"""`r1 slurm pipeline`: one script per stage, training stages under a launcher, chained afterok."""

from __future__ import annotations

import pytest

from r1cli.errors import R1Error
from r1cli.slurm import SlurmJob, chain_commands
from r1cli.slurm.pipeline import plan_pipeline_scripts

ARGS = ["--preset", "tiny-r1", "-o", "runs/p", "--set", "stages.cold_start.train.max_steps=7"]


def test_one_script_per_stage_chained_and_shaped_by_kind(tmp_path):
    job = SlurmJob(command="pipeline", args=list(ARGS), nodes=2, gpus_per_node=8, workdir=str(tmp_path))
    plan = plan_pipeline_scripts(job, tmp_path / "p.sbatch")
    names = ["data", "base", "cold_start", "reasoning_rl", "rejection", "sft_from_base", "final_rl"]
    assert [p.path.name for p in plan] == [f"p-{i + 1:02d}-{n}.sbatch" for i, n in enumerate(names)]
    assert [p.after for p in plan] == [None, 0, 1, 2, 3, 4, 5]  # each stage waits for the one before
    by_name = dict(zip(names, plan, strict=True))
    for name in ("cold_start", "reasoning_rl", "sft_from_base", "final_rl"):  # trainers: 2 nodes x 8 under torchrun
        text = by_name[name].text
        assert "#SBATCH --nodes=2" in text and "torch.distributed.run" in text
        assert f"-m r1cli pipeline --preset tiny-r1 -o runs/p --set stages.cold_start.train.max_steps=7 --only {name}" in text
    for name in ("data", "base", "rejection"):  # one process
        text = by_name[name].text
        assert "#SBATCH --nodes=1" in text and "torch.distributed.run" not in text and f"--only {name}" in text
    assert "--kill-on-invalid-dep=yes" not in plan[0].text and all("--kill-on-invalid-dep=yes" in p.text for p in plan[1:])
    assert chain_commands(plan)[1] == f"JOB1=$(sbatch --parsable --dependency=afterok:$JOB0 {plan[1].path})"


@pytest.mark.parametrize("args, message", [
    (["--preset", "tiny-r1", "--from", "x"], "'--from' after `--` is not for a pipeline chain"),
    (["--preset", "tiny-r1", "--set", "stages.base.kind=nope"], "stages.base.kind: unknown stage kind 'nope'"),
])
def test_pipeline_arguments_are_checked_before_any_script(args, message, tmp_path):
    with pytest.raises(R1Error, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan_pipeline_scripts(SlurmJob(command="pipeline", args=args, workdir=str(tmp_path)), tmp_path / "p.sbatch")
