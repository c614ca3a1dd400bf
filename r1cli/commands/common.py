"""Options every command shares, and the flags -> config step."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from r1cli.config.core import Section, resolve_config, to_yaml

S = TypeVar("S", bound=Section)

PresetOpt = Annotated[str | None, typer.Option("--preset", help="Preset name (e.g. open-r1) or YAML path.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="YAML config file.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config key: --set a.b=value (value parsed as YAML). Repeatable."),
]
PrintConfigOpt = Annotated[bool, typer.Option("--print-config", help="Print the merged config as YAML and exit.")]
OutputDirOpt = Annotated[Path | None, typer.Option("--output-dir", "-o", help="Where outputs are written.")]
OverwriteOpt = Annotated[bool, typer.Option(
    "--overwrite", help="The output directory holds a run with another config: delete it and start afresh.")]


def build_config(
    schema: type[S],
    command: str,
    *,
    preset: str | None,
    config: Path | None,
    sets: list[str] | None,
    flags: dict[str, Any],
    print_config: bool,
) -> S:
    """Resolve the config (defaults < preset < file < --set < flags); honour --print-config."""
    flags = {k: (str(v) if isinstance(v, Path) else v) for k, v in flags.items()}
    cfg = resolve_config(schema, command=command, preset=preset,
                         config_file=str(config) if config else None, sets=sets, flags=flags)
    if print_config:
        typer.echo(to_yaml(cfg), nl=False)
        raise typer.Exit(0)
    return cfg


def claim_output(cfg: Section, command: str, *, overwrite: bool = False, ignore: tuple[str, ...] = (),
                 lock_name: str | None = None, write: bool = True, compare: bool = True,
                 inputs: tuple[str, ...] = ("data.path",)) -> AbstractContextManager:
    """Hold ``cfg.output_dir`` for this run (:func:`r1cli.data.rundir.claim_output_dir`): refuse a file or a
    different earlier run, lock it while running, then write ``config.yaml``. ``inputs`` are the config keys
    of input files whose contents must not change under a run. Under a multi-process launch only rank 0
    claims (the other ranks write nothing there)."""
    from r1cli.data.rundir import LOCK_NAME, RESUME_KEYS, claim_output_dir
    from r1cli.train.distributed import env_world  # no torch import

    if env_world()[0] != 0:
        return nullcontext(Path(cfg.output_dir))
    if getattr(cfg, "resume", None):
        ignore = (*ignore, *RESUME_KEYS)
    return claim_output_dir(cfg.output_dir, cfg.model_dump(mode="json"), yaml_text=to_yaml(cfg), command=command,
                            overwrite=overwrite, ignore=ignore, lock_name=lock_name or LOCK_NAME, write=write,
                            compare=compare, inputs={key: _dotted(cfg, key) for key in inputs})


def _dotted(cfg: Any, key: str) -> Any:
    for part in key.split("."):
        cfg = getattr(cfg, part, None)
    return cfg


def shard_claim(shard: str | None, output_dir: str | Path) -> dict:
    """How a shard run (``--shard i/k``, a SLURM array task) claims the output directory it shares with
    its sibling shards: its own lock, and ``config.yaml`` written only by the first shard to get there."""
    if shard is None:
        return {}
    safe = shard.replace("/", "-of-")
    return {"lock_name": f".r1-shard{safe}.lock", "write": not (Path(output_dir) / "config.yaml").is_file()}


def shard_from_launcher(command: str, shard: str | None, merge_hint: str, *, tensor_parallel_size: int = 1
                        ) -> str | None:
    """Under a multi-process launch (``WORLD_SIZE = N > 1``) rank ``r`` samples shard ``r/N`` on its own GPU.

    The ranks write disjoint shard files (never one shared file), exactly as a SLURM array would; rank 0
    says how to join them (``merge_hint``, with ``{k}`` for N). Each rank sees only its local GPU
    (``CUDA_VISIBLE_DEVICES`` narrowed to entry ``LOCAL_RANK``), so engines do not pile onto GPU 0.
    Without a launcher ``shard`` is returned unchanged.
    """
    import os

    from r1cli.console import err
    from r1cli.errors import R1Error
    from r1cli.train.distributed import env_world  # no torch import

    rank, world, local = env_world()
    if world <= 1:
        return shard
    if shard is not None:
        raise R1Error(f"--shard {shard} and a {world}-process launch (WORLD_SIZE={world}) both split the work: "
                      "drop --shard, or launch a single process")
    if tensor_parallel_size > 1:
        raise R1Error(f"r1 {command} under a {world}-process launch gives each process one GPU, so "
                      f"tensor_parallel_size={tensor_parallel_size} cannot be used: launch one process per node "
                      "instead (no torchrun), or set tensor_parallel_size 1")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    devices = [d for d in visible.split(",") if d.strip()] if visible else None
    if devices is None or local < len(devices):
        os.environ["CUDA_VISIBLE_DEVICES"] = devices[local] if devices else str(local)
    if rank == 0:
        err.print(f"[bold]r1 {command}[/bold]: {world} processes (WORLD_SIZE={world}); process r samples shard "
                  f"r/{world} into its own file. Join them afterwards with: {merge_hint.format(k=world)}")
    return f"{rank}/{world}"


def refuse_multi_process(command: str, why: str) -> None:
    """One clear error when a one-process command is started under a multi-process launcher."""
    from r1cli.errors import R1Error
    from r1cli.train.distributed import env_world

    world = env_world()[1]
    if world > 1:
        raise R1Error(f"r1 {command} runs as one process, but this launch has WORLD_SIZE={world}: start it "
                      f"without torchrun/accelerate ({why})")
