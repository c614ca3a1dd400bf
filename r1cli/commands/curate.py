"""`r1 curate`: mix, normalize, dedup, decontaminate, verify, filter by difficulty and length."""

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
    claim_output,
    refuse_multi_process,
)
from r1cli.config.curate import CurateConfig


def curate(
    data: Annotated[list[str] | None, typer.Option("--data", "-d", help="Input file or hub id (repeatable).")] = None,
    weight: Annotated[list[float] | None, typer.Option(help="Share of each --data kept, in order (repeatable).")] = None,
    steps: Annotated[str | None, typer.Option(help="Comma list, run in order: normalize,dedup,decontam,verify,difficulty,length.")] = None,
    benchmarks: Annotated[str | None, typer.Option(help="decontam: benchmark names (found as r1 eval finds them) or files, comma separated.")] = None,
    problem_field: Annotated[str | None, typer.Option(help="Problem field of every --data.")] = None,
    answer_field: Annotated[str | None, typer.Option(help="Answer field of every --data.")] = None,
    tokenizer: Annotated[str | None, typer.Option(help="Tokenizer for the length step and histograms.")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="difficulty: the model that samples.")] = None,
    backend: Annotated[str | None, typer.Option(help="difficulty: hf, vllm or openai.")] = None,
    base_url: Annotated[str | None, typer.Option(help="difficulty with openai: server URL.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of mixing and sampling.")] = None,
    output_dir: OutputDirOpt = None,
    overwrite: OverwriteOpt = False,
    preset: PresetOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    print_config: PrintConfigOpt = False,
) -> None:
    """Curate problems into kept.jsonl / removed.jsonl with stats.json and report.md (resumable)."""
    from r1cli.errors import R1Error

    inputs = None
    if data:
        if weight and len(weight) != len(data):
            raise R1Error(f"--weight given {len(weight)} times for {len(data)} --data inputs; give one per input")
        fields = {k: v for k, v in (("problem_field", problem_field), ("answer_field", answer_field)) if v}
        inputs = [{"path": p, "weight": (weight[i] if weight else 1.0), **fields} for i, p in enumerate(data)]
    flags = {
        "inputs": inputs, "steps": [s.strip() for s in steps.split(",") if s.strip()] if steps else None,
        "params.decontam.benchmarks": [b.strip() for b in benchmarks.split(",")] if benchmarks else None,
        "tokenizer": tokenizer, "model.path": model, "generation.backend": backend,
        "generation.base_url": base_url, "seed": seed, "output_dir": output_dir,
    }
    refuse_multi_process("curate", "to sample pass rates on many GPUs, shard the difficulty step with r1 slurm curate --array K")
    cfg = build_config(CurateConfig, "curate", preset=preset, config=config, sets=set_, flags=flags,
                       print_config=print_config)
    from r1cli.curate.run import run_curate_from_config

    # curate reuses every step up to the first changed one by itself, so a changed config is not refused
    with claim_output(cfg, "curate", overwrite=overwrite, compare=False):
        run_curate_from_config(cfg)
