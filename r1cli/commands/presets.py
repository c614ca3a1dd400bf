"""`r1 presets list` / `r1 presets show NAME`."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_(command: Annotated[str | None, typer.Argument(help="Only presets of this command.")] = None) -> None:
    """List the presets shipped with r1 (name and first line of its header)."""
    from r1cli.config.core import PRESET_DIR, list_presets

    for name in list_presets(command):
        first = (PRESET_DIR / f"{name}.yaml").read_text(encoding="utf-8").splitlines()[0:1]
        desc = first[0].lstrip("# ").strip() if first and first[0].startswith("#") else ""
        typer.echo(f"{name:28s} {desc}")


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="Preset name: open-r1, sft/open-r1, or a path.")]) -> None:
    """Print a preset's YAML, header comments included."""
    from r1cli.config.core import find_preset

    typer.echo(find_preset(name).read_text(encoding="utf-8"), nl=False)
