"""sbatch scripts that run any r1 command on SLURM (`r1 slurm`), and their submission.

The scripts are meant to be read and edited by hand: every block carries a comment that says what it
does. Three shapes:

- **training** (sft, grpo): one ``srun`` task per node, each launching ``torchrun`` (c10d rendezvous
  on the first node of the allocation, from ``scontrol show hostnames``) or ``accelerate launch``
  (static rendezvous, machine rank = ``SLURM_NODEID``); any other command runs as one process;
- **job array** (sample, eval, curate's difficulty step): task ``i`` of ``K`` runs its shard, then a
  merge job submitted with ``--dependency=afterok:<array job>`` joins the shards;
- **chains**: a dependent ``r1 eval`` after the training (or merge) job (``--then-eval``).

A job id is only known at submission, so the scripts hold no dependency: :func:`submit_plan` passes
``--dependency`` to ``sbatch``, and :func:`chain_commands` prints the same thing as shell lines.
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from r1cli.errors import R1Error, did_you_mean, one_of

TRAIN_COMMANDS = ("sft", "grpo", "dpo")
ARRAY_COMMANDS = ("sample", "eval", "curate")
COMMANDS = TRAIN_COMMANDS + ARRAY_COMMANDS + ("distill", "pipeline")
LAUNCHERS = ("torchrun", "accelerate", "none")
ACCELERATE_DIR = Path(__file__).resolve().parent.parent / "presets" / "accelerate"
# Slurm's --time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S (or UNLIMITED).
_TIME_RE = re.compile(r"^(\d+(:\d{1,2}){0,2}|\d+-\d+(:\d{1,2}){0,2}|UNLIMITED|INFINITE)$", re.IGNORECASE)
_MEM_RE = re.compile(r"^\d+[KMGT]?$", re.IGNORECASE)
_SHARD_FLAGS = ("--shard", "--merge-shards")
RULE = 96  # width of the "# --- block ---" comment rules


def resolve_accelerate_config(name: str) -> str:
    """``ddp`` -> the shipped launcher config; any other value must be an existing file."""
    shipped = ACCELERATE_DIR / f"{name}.yaml"
    if "/" not in name and shipped.is_file():
        return str(shipped)
    if name in ("zero2", "zero3", "deepspeed"):
        raise R1Error(f"--accelerate-config {name}: DeepSpeed ZeRO is set on the r1 command, not on the launcher: "
                      f"put `--deepspeed {name if name != 'deepspeed' else 'zero2'}` after `--` and keep "
                      "--accelerate-config ddp (accelerate only starts the processes)")
    if not Path(name).is_file():
        shipped_names = sorted(p.stem for p in ACCELERATE_DIR.glob("*.yaml"))
        raise R1Error(f"--accelerate-config {name}: no such file{did_you_mean(name, shipped_names)}; "
                      f"shipped: {', '.join(shipped_names)}, or give a path to an accelerate config YAML")
    return str(Path(name).resolve())


@dataclass
class SlurmJob:
    """Everything that goes into the generated scripts (one field per ``r1 slurm`` option)."""

    command: str
    args: list[str]
    job_name: str = ""
    nodes: int = 1
    gpus_per_node: int = 0
    nproc_per_node: int | None = None
    cpus_per_task: int | None = None
    partition: str | None = None
    time: str | None = None
    account: str | None = None
    mem: str | None = None
    extra_sbatch: list[str] = field(default_factory=list)
    setup: list[str] = field(default_factory=list)
    log_dir: str = "slurm-logs"
    workdir: str | None = None
    launcher: str = "torchrun"
    accelerate_config: str | None = None
    master_port: int | None = None
    array: int | None = None
    array_limit: int | None = None
    python: str | None = None
    # None: training iff the command is one of TRAIN_COMMANDS; `r1 slurm pipeline` sets it per stage
    training: bool | None = None

    def __post_init__(self) -> None:
        if self.command not in COMMANDS:
            raise R1Error(f"r1 slurm: unknown command '{self.command}'{did_you_mean(self.command, COMMANDS)}; "
                          f"{one_of(COMMANDS)}")
        if self.launcher not in LAUNCHERS:
            raise R1Error(f"r1 slurm: --launcher '{self.launcher}'{did_you_mean(self.launcher, LAUNCHERS)} "
                          f"is not {one_of(LAUNCHERS)}")
        for name in ("nodes", "nproc_per_node", "cpus_per_task", "array", "array_limit"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise R1Error(f"r1 slurm: --{name.replace('_', '-')} must be at least 1, got {value}")
        if self.gpus_per_node < 0:
            raise R1Error(f"r1 slurm: --gpus-per-node must be 0 or more, got {self.gpus_per_node}")
        if self.time and not _TIME_RE.match(self.time):
            raise R1Error(f"r1 slurm: --time '{self.time}' is not a Slurm time; use e.g. 30 (minutes), 4:00:00 "
                          "or 2-00:00:00")
        if self.mem and not _MEM_RE.match(self.mem):
            raise R1Error(f"r1 slurm: --mem '{self.mem}' is not a Slurm size; use e.g. 64G or 500M")
        if self.job_name and re.search(r"\s", self.job_name):
            raise R1Error(f"r1 slurm: --job-name '{self.job_name}' must not contain spaces")
        if self.nodes > 1 and not self.is_training and self.command != "pipeline":  # pipeline: its training stages
            raise R1Error(f"r1 slurm {self.command}: --nodes {self.nodes} runs only training commands "
                          f"({', '.join(TRAIN_COMMANDS)}); {self.command} scales out with --array K")
        if self.array is not None and self.command not in ARRAY_COMMANDS:
            raise R1Error(f"r1 slurm {self.command}: --array splits {', '.join(ARRAY_COMMANDS)} into shards, "
                          f"not {self.command}")
        if self.array_limit is not None and self.array is None:
            raise R1Error("r1 slurm: --array-limit needs --array K")
        given = [a.split("=")[0] for a in self.args if a.split("=")[0] in _SHARD_FLAGS]
        if self.array is not None and given:
            raise R1Error(f"r1 slurm: with --array the script adds {given[0]} itself; remove it after `--`")
        if self.workdir and (re.search(r"\s", self.workdir) or not self.workdir.startswith("/")):
            raise R1Error(f"r1 slurm: --chdir '{self.workdir}' must be an absolute path without spaces")
        if self.accelerate_config and self.launcher != "accelerate":
            raise R1Error("r1 slurm: --accelerate-config needs --launcher accelerate")
        if self.launcher == "accelerate":
            self.accelerate_config = resolve_accelerate_config(self.accelerate_config or "ddp")
        self.extra_sbatch = [_sbatch_line(x) for x in self.extra_sbatch]
        if not self.job_name:
            self.job_name = f"r1-{self.command}"

    @property
    def is_training(self) -> bool:
        """Whether the job runs a trainer (one srun task per node starting a launcher)."""
        return self.command in TRAIN_COMMANDS if self.training is None else self.training

    @property
    def procs_per_node(self) -> int:
        """Processes each node starts: ``--nproc-per-node``, else one per GPU, else 1."""
        return self.nproc_per_node if self.nproc_per_node is not None else max(1, self.gpus_per_node)

    @property
    def distributed(self) -> bool:
        """Whether a launcher starts several processes (a training command on more than one process)."""
        return (self.is_training and self.launcher != "none"
                and self.nodes * self.procs_per_node > 1)


def _sbatch_line(text: str) -> str:
    """``--qos=high``, ``qos=high`` or ``#SBATCH --qos=high`` -> ``#SBATCH --qos=high``."""
    body = text.strip()
    if body.startswith("#SBATCH"):
        body = body[len("#SBATCH"):].strip()
    if not body:
        raise R1Error("r1 slurm: --sbatch needs an option, e.g. --sbatch '--qos=high'")
    if "\n" in body:
        raise R1Error(f"r1 slurm: --sbatch {text!r} spans several lines; give one option per --sbatch")
    if not body.startswith("-"):
        body = f"--{body}"
    return f"#SBATCH {body}"


def _rule(title: str) -> str:
    head = f"# --- {title} "
    return head + "-" * max(3, RULE - len(head))


def _quote(args: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in args)


def r1_command_line(job: SlurmJob, extra: list[str] | tuple[str, ...] = ()) -> str:
    """``r1 COMMAND ARGS...`` as the script writes it (every argument shell-quoted)."""
    return _quote([job.command, *job.args, *extra])


def header(job: SlurmJob, *, name: str, title: str, array: bool = False, gpus: bool = True,
           dependent: bool = False) -> list[str]:
    """Shebang, what the script does, the ``#SBATCH`` block and the environment setup."""
    nodes = job.nodes if not array and job.is_training else 1
    lines = [
        "#!/bin/bash",
        f"# {title}",
        f"# Generated by `r1 slurm {job.command}`; edit freely (sbatch reads the #SBATCH lines up to the",
        "# first command). Submit with: sbatch <this file>",
        "",
        _rule("resources: one task per node (a launcher starts its processes)" if job.distributed and not array
              else "resources"),
        f"#SBATCH --job-name={name}",
        f"#SBATCH --nodes={nodes}",
        "#SBATCH --ntasks-per-node=1",
    ]
    if job.cpus_per_task:
        lines.append(f"#SBATCH --cpus-per-task={job.cpus_per_task}")
    if gpus and job.gpus_per_node:
        lines.append(f"#SBATCH --gpus-per-node={job.gpus_per_node}")
    for flag, value in (("partition", job.partition), ("time", job.time), ("account", job.account),
                        ("mem", job.mem)):
        if value:
            lines.append(f"#SBATCH --{flag}={value}")
    if array:
        limit = f"%{job.array_limit}" if job.array_limit else ""
        lines.append(f"#SBATCH --array=0-{job.array - 1}{limit}")
    if dependent:
        lines += ["# If the job this one waits for fails, cancel this one instead of leaving it pending forever.",
                  "#SBATCH --kill-on-invalid-dep=yes"]
    if job.workdir:
        lines += ["# Relative paths (logs, r1 outputs) start here, wherever sbatch is run from.",
                  f"#SBATCH --chdir={job.workdir}"]
    out = "%x-%A_%a.out" if array else "%x-%j.out"
    lines.append(f"#SBATCH --output={job.log_dir}/{out}")
    lines += job.extra_sbatch
    lines += ["", _rule("environment (modules, venv): runs before anything else"), "set -eo pipefail"]
    lines += job.setup or ["# (no setup lines: the job inherits the environment of the shell that ran sbatch)"]
    python = job.python or ("python" if job.setup else sys.executable)
    lines += [
        "set -u",
        "# The Python that has r1 installed (override: R1_PYTHON=/path/to/python sbatch <this file>).",
        f"R1_PYTHON=${{R1_PYTHON:-{shlex.quote(python)}}}",
    ]
    if job.cpus_per_task:
        lines += ["# Since Slurm 22.05 srun does not inherit --cpus-per-task from sbatch; pass it on.",
                  'export SRUN_CPUS_PER_TASK="$SLURM_CPUS_PER_TASK"']
    return lines


def _deepspeed_note(job: SlurmJob) -> list[str]:
    for i, a in enumerate(job.args):
        if a == "--deepspeed" and i + 1 < len(job.args):
            return [f"# DeepSpeed ({job.args[i + 1]}) is set up by r1 itself (train.deepspeed); the launcher "
                    "only starts processes."]
        if a.startswith("--deepspeed="):
            return [f"# DeepSpeed ({a.split('=', 1)[1]}) is set up by r1 itself; the launcher only starts processes."]
    return []


def train_script(job: SlurmJob, *, dependent: bool = False) -> str:
    """One srun task per node; each starts ``procs_per_node`` processes that rendezvous on node 0."""
    nproc = job.procs_per_node
    shape = f"{job.nodes} node(s) x {nproc} process(es)" if job.distributed else "one process"
    lines = header(job, name=job.job_name, title=f"Runs `r1 {job.command}` on {shape}.", dependent=dependent)
    args = r1_command_line(job)
    if not job.distributed:
        lines += ["", _rule("run: a single process"), f'srun "$R1_PYTHON" -m r1cli {args}']
        return "\n".join(lines) + "\n"
    port = str(job.master_port) if job.master_port else "$(( 20000 + SLURM_JOB_ID % 20000 ))"
    lines += [
        "",
        _rule("rendezvous: the first node of the allocation hosts it"),
        "# (awk, not head: head would close the pipe early and pipefail would end the job)",
        'HEAD_NODE=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | awk \'NR==1\')',
        "# Its IPv4 address when the name resolves, else the name itself.",
        'HEAD_ADDR=$(getent ahostsv4 "$HEAD_NODE" | awk \'NR==1{print $1}\' || true)',
        'HEAD_ADDR=${HEAD_ADDR:-$HEAD_NODE}',
        "# A port derived from the job id, so two jobs sharing a node do not collide.",
        f"MASTER_PORT=${{MASTER_PORT:-{port}}}",
        f"NPROC_PER_NODE={nproc}",
    ]
    if job.cpus_per_task:
        lines += ["# CPU threads per process: this task's CPUs shared by its processes.",
                  "export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( SLURM_CPUS_PER_TASK / NPROC_PER_NODE > 0 ? "
                  "SLURM_CPUS_PER_TASK / NPROC_PER_NODE : 1 ))}"]
    lines += [
        'echo "r1 slurm: $SLURM_NNODES node(s) x $NPROC_PER_NODE process(es), rendezvous at $HEAD_ADDR:$MASTER_PORT"',
        "",
    ]
    lines += _deepspeed_note(job)
    if job.launcher == "torchrun":
        lines += [
            _rule("launch: srun starts one torchrun per node; torchrun starts the processes"),
            'srun --kill-on-bad-exit=1 "$R1_PYTHON" -m torch.distributed.run \\',
            '    --nnodes="$SLURM_NNODES" --nproc_per_node="$NPROC_PER_NODE" \\',
            '    --rdzv_backend=c10d --rdzv_endpoint="$HEAD_ADDR:$MASTER_PORT" --rdzv_id="$SLURM_JOB_ID" \\',
            f"    -m r1cli {args}",
        ]
    else:
        lines += [
            _rule("launch: srun starts one `accelerate launch` per node; machine rank = SLURM_NODEID"),
            "# --multi_gpu (from the config's distributed_type) also gives real multi-process training on",
            "# CPU, whereas `--cpu --num_processes N` would silently run a single process.",
            "# (bash -c runs inside each srun task, where SLURM_NODEID is that node's index; $0 is R1_PYTHON)",
            "srun --kill-on-bad-exit=1 bash -c 'exec \"$0\" -m accelerate.commands.launch "
            "--machine_rank \"$SLURM_NODEID\" \"$@\"' \"$R1_PYTHON\" \\",
            f"    --config_file {shlex.quote(str(job.accelerate_config))} \\",
            '    --num_machines "$SLURM_NNODES" --num_processes "$(( SLURM_NNODES * NPROC_PER_NODE ))" \\',
            '    --main_process_ip "$HEAD_ADDR" --main_process_port "$MASTER_PORT" \\',
            f"    -m r1cli {args}",
        ]
    return "\n".join(lines) + "\n"


def _shard_commands(job: SlurmJob, shard: str) -> list[str]:
    if job.command == "curate":
        return [f'"$R1_PYTHON" -m r1cli.commands.slurm_curate shard "{shard}" -- {_quote(job.args)}']
    return [f'"$R1_PYTHON" -m r1cli {r1_command_line(job)} --shard "{shard}"']


def array_script(job: SlurmJob) -> str:
    """A job array: task ``i`` of ``K`` runs shard ``i/K`` (sample, eval, curate's difficulty step)."""
    k = job.array
    assert k is not None
    what = {"sample": "samples of its problems", "eval": "samples of its problems (graded by the merge job)",
            "curate": "difficulty samples (pass-rate completions) of its rows"}[job.command]
    lines = header(job, name=job.job_name, array=True,
                   title=f"Job array: task i of {k} writes the {what}; a merge job joins them.")
    lines += ["", _rule(f"shard $SLURM_ARRAY_TASK_ID of {k}: each task writes its own shard file"),
              *_shard_commands(job, f"$SLURM_ARRAY_TASK_ID/{k}")]
    return "\n".join(lines) + "\n"


def merge_script(job: SlurmJob) -> str:
    """Runs after every array task succeeded (``afterok``): merge the shards into one output."""
    k = job.array
    assert k is not None
    if job.command == "curate":
        # The rest of the curate run reloads the generation backend (it samples nothing new), so the
        # merge job keeps the array's GPUs.
        body = [_rule(f"merge the {k} difficulty-sample shards, then finish the curate run from them"),
                f'"$R1_PYTHON" -m r1cli.commands.slurm_curate merge {k} -- {_quote(job.args)}',
                f'"$R1_PYTHON" -m r1cli {r1_command_line(job)}']
        gpus = True
    else:
        fails = "fails if a problem is missing or appears twice"
        grade = "; then grade" if job.command == "eval" else ""
        body = [_rule(f"merge the {k} shards ({fails}){grade}: CPU only"),
                f'"$R1_PYTHON" -m r1cli {r1_command_line(job)} --merge-shards {k}']
        gpus = False
    lines = header(job, name=f"{job.job_name}-merge", gpus=gpus, dependent=True,
                   title=f"Merges the {k} shards of the `r1 {job.command}` job array (submit it with "
                         "--dependency=afterok:<array job id>).")
    lines += ["", *body]
    return "\n".join(lines) + "\n"


def eval_after_script(job: SlurmJob, eval_args: list[str]) -> str:
    """A dependent ``r1 eval`` of what the previous job wrote (e.g. a training run's ``final/``)."""
    ev = SlurmJob(command="eval", args=eval_args, job_name=f"{job.job_name}-eval",
                  gpus_per_node=job.gpus_per_node,
                  cpus_per_task=job.cpus_per_task, partition=job.partition, time=job.time, account=job.account,
                  mem=job.mem, extra_sbatch=job.extra_sbatch, setup=job.setup, log_dir=job.log_dir,
                  workdir=job.workdir, launcher="none", python=job.python)
    lines = header(ev, name=ev.job_name, dependent=True, title="Evaluates what the previous job wrote (submit it with "
                   "--dependency=afterok:<that job's id>).")
    lines += ["", _rule("evaluate"), f'"$R1_PYTHON" -m r1cli {r1_command_line(ev)}']
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class PlannedScript:
    """One script to write; ``after`` is the index of the script whose job must succeed first."""

    path: Path
    text: str
    after: int | None = None


def plan_scripts(job: SlurmJob, script: Path, *, then_eval: str | None = None) -> list[PlannedScript]:
    """The scripts of one ``r1 slurm`` call, in submission order."""
    script = Path(script)
    stem = script.name[: -len(script.suffix)] if script.suffix else script.name
    plan: list[PlannedScript] = []
    if job.array:
        plan.append(PlannedScript(script, array_script(job)))
        plan.append(PlannedScript(script.with_name(f"{stem}-merge{script.suffix or '.sbatch'}"), merge_script(job), 0))
    else:
        plan.append(PlannedScript(script, train_script(job)))
    if then_eval is not None:
        try:
            eval_args = shlex.split(then_eval)
        except ValueError as e:
            raise R1Error(f"r1 slurm: --then-eval {then_eval!r}: {e} (quote it as one shell string)") from None
        if not eval_args:
            raise R1Error("r1 slurm: --then-eval needs the eval arguments, e.g. --then-eval 'arith --model runs/sft/final'")
        plan.append(PlannedScript(script.with_name(f"{stem}-eval{script.suffix or '.sbatch'}"),
                                  eval_after_script(job, eval_args), len(plan) - 1))
    return plan


def chain_commands(plan: list[PlannedScript]) -> list[str]:
    """Shell lines that submit ``plan`` by hand, dependencies included."""
    lines = []
    for i, p in enumerate(plan):
        dep = f"--dependency=afterok:$JOB{p.after} " if p.after is not None else ""
        lines.append(f"JOB{i}=$(sbatch --parsable {dep}{shlex.quote(str(p.path))})")
    return lines
