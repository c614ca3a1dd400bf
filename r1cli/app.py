"""The `r1` command: one line per subcommand, --version, and the error handler."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from typer.core import TyperGroup

from r1cli import __version__
from r1cli.commands import curate as curate_cmd
from r1cli.commands import data, demo, init_model, presets, slurm
from r1cli.commands import distill as distill_cmd
from r1cli.commands import dpo as dpo_cmd
from r1cli.commands import eval as eval_cmd
from r1cli.commands import grpo as grpo_cmd
from r1cli.commands import pipeline as pipeline_cmd
from r1cli.commands import sample as sample_cmd
from r1cli.commands import sft as sft_cmd


def _cli_errors() -> tuple[type[BaseException], ...]:
    """Typer >= 0.22 vendors click (its errors derive from ``typer.TyperException``); older typer uses click."""
    import click

    return tuple({getattr(typer, "TyperException", click.ClickException), click.ClickException})


class OneLineErrors(TyperGroup):
    """The root group: a usage mistake (bad flag value, unknown option, missing argument) is one line
    on stderr and exit code 2, like every other user mistake, instead of a boxed panel."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):  # type: ignore[override]
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except _cli_errors() as e:
            if not standalone_mode:
                raise
            names, ctx = [], getattr(e, "ctx", None)
            while ctx is not None and ctx.parent is not None:  # "data make", whatever the program was called
                names.insert(0, ctx.info_name)
                ctx = ctx.parent
            where = f"r1 {' '.join(names)}: " if names else ""
            message = " ".join(e.format_message().split())  # one line, whatever the library wrapped
            print(f"error: {where}{message}", file=sys.stderr)
            sys.exit(getattr(e, "exit_code", 2))
        except typer.Abort:
            if not standalone_mode:
                raise
            print("Aborted.", file=sys.stderr)
            sys.exit(1)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    name="r1",
    cls=OneLineErrors,
    help="Walk the DeepSeek-R1 recipe from a terminal: curate, distill, sft, grpo, sample, eval.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

app.command("curate", help="Build reasoning data: mix, dedup, decontaminate, verify, filter by difficulty.")(curate_cmd.curate)
app.command("distill", help="A teacher writes chains of thought; keep only verified ones as SFT data.")(distill_cmd.distill)
app.command("sft", help="Supervised fine-tuning on chains of thought (packing, long context).")(sft_cmd.sft)
app.command("dpo", help="Preference optimisation on verified pairs: DPO, IPO, length-normalised, NCA.")(dpo_cmd.dpo)
app.command("grpo", help="RL from verifiable rewards: GRPO, DAPO, Dr. GRPO, RLOO.")(grpo_cmd.grpo)
app.command("sample", help="Draw N completions per prompt into a resumable samples.jsonl.")(sample_cmd.sample)
app.command("eval")(eval_cmd.eval_)  # help: the docstring, with examples
app.command("pipeline", help="Run a recipe of stages (the R1 recipe) as one resumable chain, with a report.")(
    pipeline_cmd.pipeline)
app.command("demo", help="Run the whole pipeline on the built-in tiny world (CPU, minutes).")(demo.demo)
app.command("init-model", help="Build a local tiny model + tokenizer (HF directory).")(init_model.init_model)
app.command("slurm")(slurm.slurm)  # help: the docstring, with examples
app.add_typer(presets.app, name="presets", help="List and show shipped presets.")
app.add_typer(data.app, name="data", help="Make built-in tiny-world datasets.")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"r1 {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool | None, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = None,
) -> None:
    """r1: the DeepSeek-R1 recipe from a terminal."""


def main() -> None:
    """Console-script entry: run the app; user mistakes become one red line and exit code 2."""
    from r1cli.errors import R1Error

    # r1 draws its own progress bars; the hub's and transformers' per-file bars are noise around them.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        app()
    except R1Error as e:
        if os.environ.get("R1_DEBUG") == "1":
            raise
        from r1cli.console import err

        err.print(f"[red]error: {e}[/red]", soft_wrap=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
