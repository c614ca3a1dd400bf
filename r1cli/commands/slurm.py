"""`r1 slurm COMMAND [options] -- R1 ARGS`: write (and submit) an sbatch script for any r1 command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def slurm(
    command: Annotated[str, typer.Argument(help="The r1 command to run: sft, grpo, sample, eval, curate, distill.")],
    r1_args: Annotated[Optional[list[str]], typer.Argument(help="Everything after -- goes to the r1 command.")] = None,
    nodes: Annotated[int, typer.Option(help="Number of nodes.")] = 1,
    gpus_per_node: Annotated[int, typer.Option(help="GPUs per node (0 on CPU clusters).")] = 0,
    nproc_per_node: Annotated[Optional[int], typer.Option(help="Processes per node (default: GPUs, or 1).")] = None,
    cpus_per_task: Annotated[Optional[int], typer.Option(help="CPUs per task.")] = None,
    partition: Annotated[Optional[str], typer.Option(help="SLURM partition.")] = None,
    time: Annotated[Optional[str], typer.Option(help="Time limit, e.g. 24:00:00.")] = None,
    account: Annotated[Optional[str], typer.Option(help="SLURM account.")] = None,
    mem: Annotated[Optional[str], typer.Option(help="Memory per node, e.g. 64G.")] = None,
    sbatch_line: Annotated[Optional[list[str]], typer.Option("--sbatch", help="Extra #SBATCH line (repeatable).")] = None,
    setup: Annotated[Optional[list[str]], typer.Option(help="Environment setup line, e.g. 'module load cuda' (repeatable).")] = None,
    log_dir: Annotated[str, typer.Option(help="Where SLURM writes job logs.")] = "slurm-logs",
    launcher: Annotated[str, typer.Option(help="torchrun, accelerate or none.")] = "torchrun",
    accelerate_config: Annotated[Optional[str], typer.Option(help="accelerate config file (e.g. a DeepSpeed one).")] = None,
    array: Annotated[Optional[int], typer.Option(help="sample/eval: a job array of K shards + a merge job.")] = None,
    then_eval: Annotated[Optional[str], typer.Option(help="After training, a dependent `r1 eval` with these args.")] = None,
    job_name: Annotated[str, typer.Option(help="Job name (default r1-COMMAND).")] = "",
    script: Annotated[Path, typer.Option(help="Where to write the script.")] = Path("r1-job.sbatch"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the script(s); write and submit nothing.")] = False,
    submit: Annotated[bool, typer.Option("--submit", help="Submit with sbatch after writing.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="With --submit: wait for the (last) job to finish.")] = False,
) -> None:
    """Write an sbatch script that runs `r1 COMMAND` on SLURM; --submit submits it."""
    import shlex

    from r1cli import slurm as S
    from r1cli.console import err
    from r1cli.data.io import atomic_write_text

    job = S.SlurmJob(command=command, args=list(r1_args or []), job_name=job_name, nodes=nodes,
                     gpus_per_node=gpus_per_node, nproc_per_node=nproc_per_node, cpus_per_task=cpus_per_task,
                     partition=partition, time=time, account=account, mem=mem, extra_sbatch=list(sbatch_line or []),
                     setup=list(setup or []), log_dir=log_dir, launcher=launcher,
                     accelerate_config=accelerate_config, array=array)
    scripts: list[tuple[Path, str, str | None]] = []  # (path, text, dependency on the previous job)
    if array:
        scripts.append((script, S.array_script(job), None))
        scripts.append((script.with_name(script.stem + "-merge.sbatch"), S.merge_script(job, None), "afterok"))
    else:
        scripts.append((script, S.train_script(job), None))
    if then_eval:
        scripts.append((script.with_name(script.stem + "-eval.sbatch"),
                        S.eval_after_script(job, shlex.split(then_eval), None), "afterok"))
    if dry_run:
        for path, text, dep in scripts:
            dep_note = f"  (submitted with --dependency={dep}:<previous job id>)" if dep else ""
            typer.echo(f"# ==== {path}{dep_note}\n{text}")
        return
    for path, text, _ in scripts:
        atomic_write_text(path, text)
        path.chmod(0o755)
        err.print(f"[green]wrote[/green] {path}")
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    if not submit:
        err.print(f"submit with: sbatch {scripts[0][0]}")
        return
    previous: str | None = None
    for i, (path, _, dep) in enumerate(scripts):
        last = i == len(scripts) - 1
        previous = S.sbatch(path, dependency=f"{dep}:{previous}" if dep and previous else None, wait=wait and last)
        typer.echo(previous)
