"""Options every command shares, and the flags -> config step."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from r1cli.config.core import Section, resolve_config, to_yaml, write_config

S = TypeVar("S", bound=Section)

PresetOpt = Annotated[str | None, typer.Option("--preset", help="Preset name (e.g. open-r1) or YAML path.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="YAML config file.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config key: --set a.b=value (value parsed as YAML). Repeatable."),
]
PrintConfigOpt = Annotated[bool, typer.Option("--print-config", help="Print the merged config as YAML and exit.")]
OutputDirOpt = Annotated[Path | None, typer.Option("--output-dir", "-o", help="Where outputs are written.")]


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


def save_config(cfg: Section, output_dir: str | Path) -> Path:
    return write_config(cfg, output_dir)
