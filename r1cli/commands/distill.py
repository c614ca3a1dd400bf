"""`r1 distill --teacher MODEL --backend openai|vllm|hf|tiny --data problems.jsonl --n 4 --keep 1 -o out`."""

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


def distill(
    teacher: Annotated[str | None, typer.Option(
        "--teacher", help="Teacher model: served model name (openai), HF path/id (hf, vllm), or task (tiny).")] = None,
    backend: Annotated[str | None, typer.Option(
        "--backend", help="openai | vllm | hf | tiny (the tiny world's programmatic teacher, offline).")] = None,
    data: Annotated[str | None, typer.Option(
        "--data", help="Problems: JSONL/JSON/Parquet/CSV file or hub dataset id.")] = None,
    n: Annotated[int | None, typer.Option("--n", min=1, help="Traces sampled per problem (k).")] = None,
    keep: Annotated[int | None, typer.Option(
        "--keep", min=1, help="Verified traces kept per problem (rejection sampling).")] = None,
    reward: Annotated[str | None, typer.Option(
        "--reward", help="Verifier: auto (code/countdown/accuracy by columns), accuracy, code, countdown, ...")] = None,
    price_per_mtok: Annotated[str | None, typer.Option(
        "--price-per-mtok", help="Dollars per million tokens for the cost stats: INPUT,OUTPUT or one price.")] = None,
    base_url: Annotated[str | None, typer.Option(
        "--base-url", help="openai backend: server URL, e.g. https://api.deepseek.com/v1.")] = None,
    api_key_env: Annotated[str | None, typer.Option(
        "--api-key-env", help="openai backend: NAME of the env var holding the API key (never the key).")] = None,
    temperature: Annotated[float | None, typer.Option("--temperature", min=0, help="R1 protocol: 0.6.")] = None,
    top_p: Annotated[float | None, typer.Option("--top-p", help="R1 protocol: 0.95.")] = None,
    max_new_tokens: Annotated[int | None, typer.Option(
        "--max-new-tokens", min=1, help="Generation cap per trace (R1 protocol: 32768).")] = None,
    max_tokens: Annotated[int | None, typer.Option(
        "--max-tokens", min=1, help="Filter: drop traces longer than this many tokens.")] = None,
    max_foreign_share: Annotated[float | None, typer.Option(
        "--max-foreign-share", min=0, max=1,
        help="Filter: largest share of letters outside the problem's script (default 0.1).")] = None,
    prompt_template: Annotated[str | None, typer.Option(
        "--prompt-template", help="User turn, with {problem} (default: the R1 math instruction).")] = None,
    problem_field: Annotated[str | None, typer.Option("--problem-field", help="Problem column.")] = None,
    answer_field: Annotated[str | None, typer.Option("--answer-field", help="Gold-answer column.")] = None,
    id_field: Annotated[str | None, typer.Option("--id-field", help="Id column.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N problems.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Sampling seed.")] = None,
    output_dir: OutputDirOpt = None,
    overwrite: OverwriteOpt = False,
    preset: PresetOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    print_config: PrintConfigOpt = False,
) -> None:
    """A teacher writes k traces per problem; verified, well-formed ones become SFT records.

    Writes samples.jsonl (raw log, resumable), sft.jsonl (read by r1 sft) and stats.json.

    The API key comes from the environment variable named by --api-key-env (default OPENAI_API_KEY).
    """
    from r1cli.config.distill import DistillConfig, parse_price

    price = parse_price(price_per_mtok) if price_per_mtok is not None else (None, None)
    flags = {
        "model.path": teacher, "generation.backend": backend, "data.path": data, "generation.n": n, "keep": keep,
        "reward.name": reward, "cost.input_per_mtok": price[0], "cost.output_per_mtok": price[1],
        "generation.base_url": base_url, "generation.api_key_env": api_key_env,
        "generation.temperature": temperature, "generation.top_p": top_p,
        "generation.max_new_tokens": max_new_tokens, "filters.max_tokens": max_tokens,
        "filters.max_foreign_share": max_foreign_share, "data.prompt_template": prompt_template,
        "data.problem_field": problem_field, "data.answer_field": answer_field, "data.id_field": id_field,
        "data.limit": limit, "generation.seed": seed, "output_dir": output_dir,
    }
    refuse_multi_process("distill", "its teacher spreads over the GPUs of a node through vLLM tensor parallelism or an OpenAI-compatible server")
    cfg = build_config(DistillConfig, "distill", preset=preset, config=config, sets=set_, flags=flags,
                       print_config=print_config)
    from r1cli.distill.engine import run_distill

    # filters, keep and the reward re-derive sft.jsonl from the raw samples: not a different run
    with claim_output(cfg, "distill", overwrite=overwrite, ignore=("keep", "filters", "reward", "cost")):
        run_distill(cfg)
