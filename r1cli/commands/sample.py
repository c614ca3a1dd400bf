"""`r1 sample`: N completions per prompt into a resumable samples.jsonl (shardable for SLURM arrays)."""

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
    shard_claim,
    shard_from_launcher,
)
from r1cli.config.sample import SampleConfig


def sample(
    model: Annotated[str | None, typer.Option("--model", "-m", help="HF model dir or hub id (served name for openai).")] = None,
    data: Annotated[str | None, typer.Option("--data", "-d", help="Problems: JSONL/JSON/Parquet/CSV file or hub id.")] = None,
    split: Annotated[str | None, typer.Option(help="Split of a hub dataset.")] = None,
    problem_field: Annotated[str | None, typer.Option(help="Field holding the problem text.")] = None,
    answer_field: Annotated[str | None, typer.Option(help="Field holding the reference answer.")] = None,
    prompt_template: Annotated[str | None, typer.Option(help="User turn, with {problem}.")] = None,
    n: Annotated[int | None, typer.Option("--n", min=1, help="Completions per prompt.")] = None,
    temperature: Annotated[float | None, typer.Option(min=0.0, help="Sampling temperature (0 = greedy).")] = None,
    top_p: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="Nucleus sampling.")] = None,
    top_k: Annotated[int | None, typer.Option(min=0, help="Top-k (0 = off).")] = None,
    max_new_tokens: Annotated[int | None, typer.Option(min=1, help="Longest completion, in tokens.")] = None,
    stop: Annotated[list[str] | None, typer.Option(help="Stop string (repeatable).")] = None,
    seed: Annotated[int | None, typer.Option(help="Sampling seed.")] = None,
    system_prompt: Annotated[str | None, typer.Option(help="Optional system message.")] = None,
    prefill_think: Annotated[bool | None, typer.Option("--prefill-think/--no-prefill-think", help="Start the reply with <think>.")] = None,
    backend: Annotated[str | None, typer.Option(help="hf (CPU default), vllm or openai.")] = None,
    base_url: Annotated[str | None, typer.Option(help="openai: server URL, e.g. http://host:8000/v1.")] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, help="openai: requests in flight.")] = None,
    tensor_parallel_size: Annotated[int | None, typer.Option(min=1, help="vllm: GPUs per model.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N problems.")] = None,
    shard: Annotated[str | None, typer.Option(help="i/k: sample shard i of k (0-based), for job arrays.")] = None,
    merge_shards: Annotated[int | None, typer.Option(min=1, help="Merge the K shard files of --output-dir into samples.jsonl.")] = None,
    output_dir: OutputDirOpt = None,
    overwrite: OverwriteOpt = False,
    preset: PresetOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    print_config: PrintConfigOpt = False,
) -> None:
    """Draw N completions per problem; a rerun continues where a killed run stopped."""
    flags = {
        "model.path": model, "data.path": data, "data.split": split, "data.problem_field": problem_field,
        "data.answer_field": answer_field, "data.prompt_template": prompt_template, "data.limit": limit,
        "generation.n": n, "generation.temperature": temperature, "generation.top_p": top_p,
        "generation.top_k": top_k, "generation.max_new_tokens": max_new_tokens, "generation.stop": stop,
        "generation.seed": seed, "generation.system_prompt": system_prompt,
        "generation.prefill_think": prefill_think, "generation.backend": backend,
        "generation.base_url": base_url, "generation.concurrency": concurrency,
        "generation.tensor_parallel_size": tensor_parallel_size, "shard": shard, "output_dir": output_dir,
    }
    cfg = build_config(SampleConfig, "sample", preset=preset, config=config, sets=set_, flags=flags,
                       print_config=print_config)
    from r1cli.generation.run import merge_sample_shards, run_sample

    if merge_shards is not None:
        with claim_output(cfg, "sample", write=False, compare=False):  # reads only --data of the config
            merge_sample_shards(cfg, merge_shards)
        return
    launched = shard_from_launcher("sample", cfg.shard, f"r1 sample --merge-shards {{k}} -o {cfg.output_dir}",
                                   tensor_parallel_size=cfg.generation.tensor_parallel_size)
    if launched != cfg.shard:
        cfg = cfg.model_copy(update={"shard": launched})
    from r1cli.generation.run import check_sample_config

    check_sample_config(cfg)  # before the output directory is touched
    with claim_output(cfg, "sample", overwrite=overwrite, **shard_claim(cfg.shard, cfg.output_dir)):
        run_sample(cfg)
