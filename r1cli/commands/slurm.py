"""`r1 slurm COMMAND [options] -- R1 ARGS`: write (and submit) sbatch scripts for any r1 command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

HELP = """Write (and with --submit, submit) sbatch scripts that run `r1 COMMAND` on SLURM.

Everything after `--` goes to the r1 command unchanged. Examples:
  r1 slurm sft --nodes 2 --gpus-per-node 8 --time 24:00:00 --submit -- --preset open-r1 --resume latest
  r1 slurm sample --array 8 --gpus-per-node 1 --submit -- --model M --data problems.jsonl -o runs/s
  r1 slurm sft --dry-run --then-eval 'arith --model runs/sft/final' -- --preset tiny -o runs/sft
  r1 slurm pipeline --gpus-per-node 8 --submit -- --preset r1 -o runs/r1   (one job per stage, chained)

Training (sft, grpo): one srun task per node starting torchrun (c10d rendezvous on the first node)
or `accelerate launch` (--launcher accelerate). --array K (sample, eval, curate's difficulty step):
a job array of K shards plus a merge job that runs after all of them succeeded."""


def slurm(
    command: Annotated[str, typer.Argument(help="The r1 command to run: sft, grpo, dpo, sample, eval, curate, distill, pipeline.")],
    r1_args: Annotated[list[str] | None, typer.Argument(help="Everything after -- goes to the r1 command.")] = None,
    nodes: Annotated[int, typer.Option(help="Number of nodes (training commands).")] = 1,
    gpus_per_node: Annotated[int, typer.Option(help="GPUs per node (0 on CPU clusters).")] = 0,
    nproc_per_node: Annotated[int | None, typer.Option(help="Processes per node (default: GPUs, or 1).")] = None,
    cpus_per_task: Annotated[int | None, typer.Option(help="CPUs per task (= per node for training).")] = None,
    partition: Annotated[str | None, typer.Option(help="SLURM partition.")] = None,
    time: Annotated[str | None, typer.Option(help="Time limit, e.g. 24:00:00 or 2-00:00:00.")] = None,
    account: Annotated[str | None, typer.Option(help="SLURM account.")] = None,
    mem: Annotated[str | None, typer.Option(help="Memory per node, e.g. 64G.")] = None,
    sbatch_line: Annotated[list[str] | None, typer.Option("--sbatch", help="Extra #SBATCH option, e.g. '--qos=high' (repeatable).")] = None,
    setup: Annotated[list[str] | None, typer.Option(help="Environment setup line, e.g. 'module load cuda' (repeatable).")] = None,
    python: Annotated[str | None, typer.Option(help="Python with r1 installed (default: this one; 'python' with --setup).")] = None,
    log_dir: Annotated[str, typer.Option(help="Where SLURM writes job logs (created when the script is written).")] = "slurm-logs",
    chdir: Annotated[Path | None, typer.Option(help="Job working directory (default: the current one).")] = None,
    launcher: Annotated[str, typer.Option(help="torchrun, accelerate or none.")] = "torchrun",
    accelerate_config: Annotated[str | None, typer.Option(help="accelerate config: ddp (shipped, default) or a YAML path.")] = None,
    master_port: Annotated[int | None, typer.Option(help="Rendezvous port (default: derived from the job id).")] = None,
    array: Annotated[int | None, typer.Option(help="sample/eval/curate: a job array of K shards + a merge job.")] = None,
    array_limit: Annotated[int | None, typer.Option(help="With --array: at most N tasks at once.")] = None,
    then_eval: Annotated[str | None, typer.Option(help="Then a dependent `r1 eval` with these args (one string).")] = None,
    job_name: Annotated[str, typer.Option(help="Job name (default r1-COMMAND).")] = "",
    script: Annotated[Path, typer.Option(help="Where to write the script (others get -merge/-eval suffixes).")] = Path("r1-job.sbatch"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the script(s); write and submit nothing.")] = False,
    submit: Annotated[bool, typer.Option("--submit", help="Submit with sbatch after writing.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="With --submit: wait for the last job; fail if it fails.")] = False,
) -> None:
    from r1cli import slurm as S
    from r1cli.console import err
    from r1cli.data.io import atomic_write_text
    from r1cli.errors import R1Error

    if wait and not submit:
        raise R1Error("r1 slurm: --wait needs --submit")
    job = S.SlurmJob(command=command, args=list(r1_args or []), job_name=job_name, nodes=nodes,
                     gpus_per_node=gpus_per_node, nproc_per_node=nproc_per_node, cpus_per_task=cpus_per_task,
                     partition=partition, time=time, account=account, mem=mem, extra_sbatch=list(sbatch_line or []),
                     setup=list(setup or []), python=python, log_dir=log_dir,
                     workdir=str((chdir or Path.cwd()).resolve()), launcher=launcher,
                     accelerate_config=accelerate_config, master_port=master_port, array=array,
                     array_limit=array_limit)
    if command == "pipeline":
        from r1cli.slurm.pipeline import plan_pipeline_scripts

        if then_eval is not None:
            raise R1Error("r1 slurm pipeline: --then-eval does not apply (a pipeline evaluates its stages itself)")
        plan = plan_pipeline_scripts(job, script)
    else:
        plan = S.plan_scripts(job, script, then_eval=then_eval)
    if dry_run:
        for p in plan:
            dep = f"  (sbatch --dependency=afterok:<job of {plan[p.after].path}>)" if p.after is not None else ""
            typer.echo(f"# ==== {p.path}{dep}\n{p.text}")
        return
    for p in plan:
        atomic_write_text(p.path, p.text)
        p.path.chmod(0o755)
        err.print(f"[green]wrote[/green] {p.path}")
    (Path(job.workdir) / log_dir).mkdir(parents=True, exist_ok=True)
    if not submit:
        err.print("submit with:\n  " + "\n  ".join(S.chain_commands(plan)))
        return
    def report(p: S.PlannedScript, job_id: str) -> None:
        err.print(f"submitted {p.path} as job {job_id}")
        typer.echo(job_id)  # one id per line, as soon as it is known

    S.submit_plan(plan, wait=wait, on_submit=report)
    if wait:
        err.print(f"[green]done[/green]: job {plan[-1].path} completed")


slurm.__doc__ = HELP
