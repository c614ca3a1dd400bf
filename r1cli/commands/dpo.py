"""`r1 dpo`: preference optimisation on verified pairs (sigmoid DPO, IPO, length-normalised, NCA)."""

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
)


def dpo(
    model: Annotated[str | None, typer.Option("--model", "-m", help="Policy to train (HF directory or hub id).")
                     ] = None,
    data: Annotated[str | None, typer.Option(
        "--data", help="Preference pairs: pairs.jsonl from `r1 curate --steps pairs` (problem, chosen, rejected).")
    ] = None,
    ref_model: Annotated[str | None, typer.Option(
        "--ref-model", help="Frozen reference policy (default: the model as it is before training).")] = None,
    loss: Annotated[str | None, typer.Option("--loss", help="sigmoid (DPO), ipo, sigmoid-norm or nca.")] = None,
    beta: Annotated[float | None, typer.Option("--beta", min=0.0, help="Strength of the KL anchor β.")] = None,
    resume: Annotated[str | None, typer.Option(
        "--resume", help="Continue exactly: 'latest' (newest checkpoint in the output dir) or a checkpoint path.")
    ] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", min=1, help="Optimizer steps (overrides epochs).")
                         ] = None,
    num_epochs: Annotated[float | None, typer.Option("--epochs", min=0.0, help="Passes over the pairs.")] = None,
    learning_rate: Annotated[float | None, typer.Option("--lr", help="Peak learning rate.")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1, help="Pairs per device per micro-batch.")
                          ] = None,
    grad_accum: Annotated[int | None, typer.Option("--grad-accum", min=1, help="Micro-batches per optimizer step.")
                          ] = None,
    max_length: Annotated[int | None, typer.Option("--max-length", min=2, help="Tokens per sequence.")] = None,
    deepspeed: Annotated[str | None, typer.Option(
        "--deepspeed", help="ZeRO config: zero2, zero3 or a JSON path (needs the deepspeed extra).")] = None,
    device: Annotated[str | None, typer.Option("--device", help="auto, cpu, cuda.")] = None,
    save_steps: Annotated[int | None, typer.Option("--save-steps", min=1, help="Checkpoint every N steps.")
                          ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the pair order.")] = None,
    rounds: Annotated[int | None, typer.Option(
        "--rounds", min=1, help="Iterative DPO: K rounds of sample -> pairs -> DPO on --problems.")] = None,
    problems: Annotated[str | None, typer.Option(
        "--problems", help="With --rounds: problems with gold answers, sampled by the current policy each round.")
    ] = None,
    preset: PresetOpt = None,
    config: ConfigOpt = None,
    sets: SetOpt = None,
    print_config: PrintConfigOpt = False,
    output_dir: OutputDirOpt = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Train on (chosen, rejected) pairs against a frozen reference whose log-probs are computed once;
    writes checkpoints, final/, metrics.jsonl (loss, reward accuracy and margin), loss.png and summary.json.
    Runs unchanged under torchrun / accelerate launch (DDP) and with DeepSpeed ZeRO."""
    from r1cli.config.dpo import DPOConfig

    flags = {
        "model.path": model, "data.path": data, "ref_model": ref_model, "dpo.loss": loss, "dpo.beta": beta,
        "resume": resume, "train.max_steps": max_steps, "train.num_epochs": num_epochs,
        "train.learning_rate": learning_rate, "train.per_device_batch_size": batch_size,
        "train.gradient_accumulation_steps": grad_accum, "data.max_length": max_length,
        "train.deepspeed": deepspeed, "train.device": device, "train.save_steps": save_steps, "train.seed": seed,
        "output_dir": output_dir, "rounds": rounds, "iterate.problems": problems,
    }
    cfg = build_config(DPOConfig, "dpo", preset=preset, config=config, sets=sets, flags=flags,
                       print_config=print_config)
    from r1cli.train.dpo import run_dpo, run_iterative_dpo

    with claim_output(cfg, "dpo", overwrite=overwrite, inputs=("data.path", "iterate.problems")):
        run_iterative_dpo(cfg) if cfg.rounds else run_dpo(cfg)
