"""`r1 eval BENCH [BENCH...] --model M` and `r1 eval compare DIR [DIR...]`."""

from __future__ import annotations

from pathlib import Path
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
from r1cli.errors import R1Error

HELP = """Score a model on benchmarks the way the papers do (pass@1 ± stderr, maj@k, pass@k).

Examples:
  r1 eval aime24 math500 --model M            R1 protocol: n 64 / 4, T 0.6, top_p 0.95, 32k tokens
  r1 eval countdown --model runs/tiny         a built-in tiny-world task, offline
  r1 eval math500 --samples runs/eval/math500/samples.jsonl   re-grade without generating
  r1 eval lm-eval:gsm8k --model M             EleutherAI lm-evaluation-harness (extra: lmeval)
  r1 eval compare runs/eval-a runs/eval-b     runs side by side

Benchmarks: aime24 aime25 amc23 math500 gsm8k gpqa-diamond countdown arith. Data: --data FILE, else
$R1_BENCHMARK_DIR/<name>.jsonl, else the hub. Outputs: OUTPUT_DIR/<benchmark>/{samples.jsonl,
results.json, pass_at_k.png}; a rerun reuses the samples already written."""


def eval_(
    names: Annotated[list[str] | None, typer.Argument(
        help="Benchmarks (or lm-eval:TASK[,TASK]); or 'compare' followed by run directories.",
        show_default=False)] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model directory or hub id (served name for openai).")] = None,
    backend: Annotated[str | None, typer.Option("--backend", help="hf | vllm | openai.")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="OpenAI-compatible server URL (--backend openai).")] = None,
    n: Annotated[int | None, typer.Option("--n", min=1, help="Samples per problem (default: the benchmark's protocol).")] = None,
    temperature: Annotated[float | None, typer.Option("--temperature", min=0.0, help="Default 0.6.")] = None,
    top_p: Annotated[float | None, typer.Option("--top-p", help="Default 0.95.")] = None,
    max_new_tokens: Annotated[int | None, typer.Option("--max-new-tokens", min=1, help="Default 32768.")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Problems file for a single benchmark.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N problems.")] = None,
    samples: Annotated[Path | None, typer.Option("--samples", help="Re-grade this samples.jsonl (no generation).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON on stdout.")] = False,
    shard: Annotated[str | None, typer.Option("--shard", help="i/k: only sample shard i of k (0-based), for job "
                                              "arrays; grade later with --merge-shards k.")] = None,
    merge_shards: Annotated[int | None, typer.Option("--merge-shards", min=1, help="Join the K shard files of "
                                                     "each benchmark, then grade.")] = None,
    output_dir: OutputDirOpt = None,
    overwrite: OverwriteOpt = False,
    preset: PresetOpt = None,
    config: ConfigOpt = None,
    sets: SetOpt = None,
    print_config: PrintConfigOpt = False,
) -> None:
    """Score a model on benchmarks (see `r1 eval --help`)."""
    names = list(names or [])
    if names and names[0] == "compare":
        given = {"--model": model, "--backend": backend, "--base-url": base_url, "--n": n, "--temperature": temperature,
                 "--top-p": top_p, "--max-new-tokens": max_new_tokens, "--data": data, "--limit": limit,
                 "--samples": samples, "--output-dir": output_dir, "--preset": preset, "--config": config,
                 "--set": sets or None, "--print-config": print_config or None, "--shard": shard,
                 "--merge-shards": merge_shards}
        extra = [flag for flag, value in given.items() if value is not None]
        if extra:
            raise R1Error(f"r1 eval compare takes run directories and --json only, not {extra[0]}")
        compare(names[1:], as_json=as_json)
        return
    from r1cli.config.eval import EvalConfig

    cfg = build_config(
        EvalConfig, "eval", preset=preset, config=config, sets=sets, print_config=print_config,
        flags={"benchmarks": names or None, "model.path": model, "generation.backend": backend,
               "generation.base_url": base_url, "generation.n": n, "generation.temperature": temperature,
               "generation.top_p": top_p, "generation.max_new_tokens": max_new_tokens, "data.path": data,
               "data.limit": limit, "samples": samples, "output_dir": output_dir},
    )
    from r1cli.eval.report import print_results
    from r1cli.eval.runner import check_config, merge_eval_shards, run_eval

    check_config(cfg)
    if shard is not None and merge_shards is not None:
        raise R1Error("--shard (sample one shard) and --merge-shards (join and grade them) are separate runs")
    if merge_shards is None:
        shard = shard_from_launcher("eval", shard, "the same r1 eval command with --merge-shards {k}, without a "
                                    "launcher", tensor_parallel_size=cfg.generation.tensor_parallel_size)
    if shard is not None:  # a bad --shard is refused before the output directory is touched
        from r1cli.eval.runner import check_shardable
        from r1cli.generation.sampler import parse_shard

        parse_shard(shard)
        check_shardable(cfg, list(cfg.benchmarks), "--shard")
    # each benchmark has its own subdirectory: another list of benchmarks is not a different run
    with claim_output(cfg, "eval", overwrite=overwrite, ignore=("benchmarks",), **shard_claim(shard, cfg.output_dir)):
        if shard is not None:
            from r1cli.generation.sampler import parse_shard

            run_eval(cfg, shard=parse_shard(shard))
            return
        results = merge_eval_shards(cfg, merge_shards) if merge_shards is not None else run_eval(cfg)
    print_results(results, as_json=as_json)


def compare(dirs: list[str], *, as_json: bool = False) -> None:
    """`r1 eval compare DIR [DIR...]`: print runs side by side."""
    from r1cli.eval.report import compare_runs, print_compare

    print_compare(compare_runs(dirs), as_json=as_json)


eval_.__doc__ = HELP
