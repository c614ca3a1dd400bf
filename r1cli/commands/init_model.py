"""`r1 init-model tiny --output DIR`: a small Qwen2 model and its tokenizer, built locally."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from r1cli.errors import R1Error, did_you_mean


def init_model(
    kind: Annotated[str, typer.Argument(help="Model kind: tiny.")] = "tiny",
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory to write the HF model to.")] = Path(
        "runs/tiny-model"),
    hidden_size: Annotated[int, typer.Option(help="Hidden size.")] = 128,
    num_layers: Annotated[int, typer.Option(help="Transformer layers.")] = 3,
    num_heads: Annotated[int, typer.Option(help="Attention heads.")] = 4,
    num_kv_heads: Annotated[int, typer.Option(help="Key/value heads (GQA).")] = 2,
    intermediate_size: Annotated[int, typer.Option(help="MLP width.")] = 512,
    seed: Annotated[int, typer.Option(help="Initialisation seed.")] = 0,
) -> None:
    """Build the tiny model (~0.8M parameters) and save it as an ordinary HF directory."""
    if kind != "tiny":
        raise R1Error(f"unknown model kind '{kind}'{did_you_mean(kind, ['tiny'])}; kinds: tiny")
    from r1cli.console import err
    from r1cli.models.tiny import init_tiny

    path = init_tiny(output, hidden_size=hidden_size, num_layers=num_layers, num_heads=num_heads,
                     num_kv_heads=num_kv_heads, intermediate_size=intermediate_size, seed=seed)
    err.print(f"[green]wrote[/green] tiny model to {path}")
