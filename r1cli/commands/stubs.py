"""Commands whose engine has not landed yet: registered, but they say so and exit non-zero."""

from __future__ import annotations

import typer

from r1cli.commands.common import not_implemented

_ctx = {"allow_extra_args": True, "ignore_unknown_options": True}


def sft(ctx: typer.Context) -> None:
    not_implemented("sft", 6)


def grpo(ctx: typer.Context) -> None:
    not_implemented("grpo", 7)
