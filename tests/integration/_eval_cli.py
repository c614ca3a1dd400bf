"""Invoke `r1 eval` in-process: the real app when it registers eval, else a stand-in group."""

from __future__ import annotations

import typer
from typer.testing import CliRunner


def eval_app() -> typer.Typer:
    """``r1cli.app.app`` if its ``eval`` command is ours, else a group holding only ``eval``."""
    from r1cli.commands.eval import eval_

    try:
        from r1cli.app import app

        if any(c.name == "eval" and c.callback is eval_ for c in app.registered_commands):
            return app
    except ImportError:  # pragma: no cover - app not importable
        pass
    app = typer.Typer()
    app.command("eval")(eval_)

    @app.callback()
    def _root() -> None:
        """r1 (test stand-in)."""

    return app


def run_eval_cli(*args: str):
    return CliRunner().invoke(eval_app(), ["eval", *args], catch_exceptions=True)
