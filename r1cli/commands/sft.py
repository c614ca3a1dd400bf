"""`r1 sft`: supervised fine-tuning on chains of thought (assistant-only loss, packing, resume)."""

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


def sft(
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model to train (HF directory or hub id).")
                     ] = None,
    data: Annotated[str | None, typer.Option(
        "--data", help="SFT records: JSONL/JSON/Parquet/CSV with messages or prompt+completion.")] = None,
    resume: Annotated[str | None, typer.Option(
        "--resume", help="Continue exactly: 'latest' (newest checkpoint in the output dir) or a checkpoint path.")
    ] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", min=1, help="Optimizer steps (overrides epochs).")
                         ] = None,
    num_epochs: Annotated[float | None, typer.Option("--epochs", min=0.0, help="Passes over the data.")] = None,
    learning_rate: Annotated[float | None, typer.Option("--lr", help="Peak learning rate.")] = None,
    batch_size: Annotated[int | None, typer.Option(
        "--batch-size", min=1, help="Examples (or packed rows) per device per micro-batch.")] = None,
    grad_accum: Annotated[int | None, typer.Option(
        "--grad-accum", min=1, help="Micro-batches per optimizer step.")] = None,
    max_length: Annotated[int | None, typer.Option("--max-length", min=2, help="Tokens per example / row.")
                          ] = None,
    truncation: Annotated[str | None, typer.Option(
        "--truncation", help="Examples over --max-length: truncate or drop.")] = None,
    packing: Annotated[bool | None, typer.Option(
        "--packing/--no-packing", help="Pack examples into rows (attention stays inside each example).")] = None,
    messages_field: Annotated[str | None, typer.Option("--messages-field", help="Field with chat messages.")
                              ] = None,
    prompt_field: Annotated[str | None, typer.Option("--prompt-field", help="Prompt field.")] = None,
    completion_field: Annotated[str | None, typer.Option("--completion-field", help="Completion field.")] = None,
    system_prompt: Annotated[str | None, typer.Option("--system-prompt", help="System turn to prepend.")] = None,
    deepspeed: Annotated[str | None, typer.Option(
        "--deepspeed", help="ZeRO config: zero2, zero3 or a JSON path (needs the deepspeed extra).")] = None,
    gradient_checkpointing: Annotated[bool | None, typer.Option(
        "--gradient-checkpointing/--no-gradient-checkpointing", help="Recompute activations to save memory.")
    ] = None,
    bf16: Annotated[bool | None, typer.Option("--bf16/--no-bf16", help="bf16 autocast (default: on GPU).")
                    ] = None,
    attn_implementation: Annotated[str | None, typer.Option(
        "--attn", help="Attention kernel: sdpa, eager, flash_attention_2, flex_attention.")] = None,
    device: Annotated[str | None, typer.Option("--device", help="auto, cpu, cuda.")] = None,
    save_steps: Annotated[int | None, typer.Option("--save-steps", min=1, help="Checkpoint every N steps.")
                          ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of init-free randomness and data order.")
                    ] = None,
    preset: PresetOpt = None,
    config: ConfigOpt = None,
    sets: SetOpt = None,
    print_config: PrintConfigOpt = False,
    output_dir: OutputDirOpt = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Fine-tune on chat records with loss on assistant tokens only; writes checkpoints, final/,
    metrics.jsonl, loss.png and summary.json to the output directory. Runs unchanged under
    torchrun / accelerate launch (DDP) and with DeepSpeed ZeRO (--deepspeed zero3)."""
    from r1cli.config.sft import SFTConfig

    flags = {
        "model.path": model, "data.path": data, "resume": resume, "train.max_steps": max_steps,
        "train.num_epochs": num_epochs, "train.learning_rate": learning_rate,
        "train.per_device_batch_size": batch_size, "train.gradient_accumulation_steps": grad_accum,
        "data.max_length": max_length, "data.truncation": truncation, "data.packing": packing,
        "data.messages_field": messages_field, "data.prompt_field": prompt_field,
        "data.completion_field": completion_field, "data.system_prompt": system_prompt,
        "train.deepspeed": deepspeed, "train.gradient_checkpointing": gradient_checkpointing,
        "train.bf16": bf16, "model.attn_implementation": attn_implementation, "train.device": device,
        "train.save_steps": save_steps, "train.seed": seed, "output_dir": output_dir,
    }
    cfg = build_config(SFTConfig, "sft", preset=preset, config=config, sets=sets, flags=flags,
                       print_config=print_config)
    from r1cli.train.sft import run_sft

    with claim_output(cfg, "sft", overwrite=overwrite):
        run_sft(cfg)
