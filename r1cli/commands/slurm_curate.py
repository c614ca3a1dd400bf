"""Entry point of the SLURM jobs of ``r1 slurm curate --array K`` (the CLI layer: it resolves
``r1 curate`` arguments exactly as the command does, then calls :mod:`r1cli.slurm.curate`).

``python -m r1cli.commands.slurm_curate shard I/K -- CURATE ARGS`` | ``... merge K -- CURATE ARGS``.
"""

from __future__ import annotations

import contextlib
import io
import sys
from typing import Any

from r1cli.errors import R1Error

USAGE = ("python -m r1cli.commands.slurm_curate shard I/K -- CURATE ARGS   |   "
         "python -m r1cli.commands.slurm_curate merge K -- CURATE ARGS")


def curate_config(args: list[str]) -> Any:
    """The CurateConfig ``r1 curate ARGS`` would run with (via its ``--print-config``)."""
    import typer

    from r1cli.app import app
    from r1cli.config.core import validate, yaml_load
    from r1cli.config.curate import CurateConfig

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = typer.main.get_command(app).main(["curate", *args, "--print-config"], prog_name="r1",
                                                standalone_mode=False)
    if code not in (0, None):
        raise R1Error(f"r1 curate {' '.join(args)}: the arguments do not resolve to a config (exit {code})")
    return validate(CurateConfig, yaml_load(buf.getvalue()) or {}, "r1 curate --print-config")


def main(argv: list[str] | None = None) -> int:
    """``shard I/K -- ARGS`` or ``merge K -- ARGS``; user mistakes print one line and return 2."""
    from r1cli.console import err
    from r1cli.slurm.curate import merge, run_shard

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if len(argv) < 2 or argv[0] not in ("shard", "merge"):
            raise R1Error(f"usage: {USAGE}")
        mode, spec, rest = argv[0], argv[1], argv[2:]
        rest = rest[1:] if rest[:1] == ["--"] else rest
        cfg = curate_config(rest)
        if mode == "shard":
            from r1cli.generation.sampler import parse_shard

            shard = parse_shard(spec)
            if shard is None:
                raise R1Error(f"usage: {USAGE}")
            path = run_shard(cfg, shard)
            err.print(f"[green]wrote[/green] {path} (difficulty samples of shard {spec})")
        else:
            if not spec.isdigit() or int(spec) < 1:
                raise R1Error(f"merge K: K must be a positive integer, got '{spec}'")
            stats = merge(cfg, int(spec))
            err.print(f"[green]merged[/green] {stats['shards']} difficulty shards: {stats['added']} new records, "
                      f"{stats['cached']} cached in all")
    except R1Error as e:
        err.print(f"[red]error: {e}[/red]", soft_wrap=True)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
