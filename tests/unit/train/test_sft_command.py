"""`r1 sft` flags -> config (through the command function, mounted on a stand-in app)."""

from __future__ import annotations

import typer
import yaml
from typer.testing import CliRunner

from r1cli.commands.sft import sft


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("sft")(sft)

    @app.callback()
    def _root() -> None:
        """stand-in root"""

    return app


def test_help_lists_the_flags():
    res = CliRunner().invoke(_app(), ["sft", "--help"])
    assert res.exit_code == 0
    for flag in ("--model", "--data", "--resume", "--packing", "--deepspeed", "--max-length", "--grad-accum"):
        assert flag in res.output


def test_flags_beat_preset_in_print_config():
    res = CliRunner().invoke(_app(), ["sft", "--preset", "open-r1", "--model", "m", "--data", "d.jsonl",
                                      "--lr", "1e-5", "--packing", "--resume", "latest", "--print-config",
                                      "--set", "train.seed=7"])
    assert res.exit_code == 0, res.output
    cfg = yaml.safe_load(res.output)
    assert cfg["model"]["path"] == "m" and cfg["data"]["path"] == "d.jsonl" and cfg["resume"] == "latest"
    assert cfg["train"]["learning_rate"] == 1e-5 and cfg["data"]["packing"] is True
    assert cfg["train"]["seed"] == 7 and cfg["model"]["rope_theta"] == 300000  # --set and preset kept


def test_unknown_key_is_a_user_error():
    res = CliRunner().invoke(_app(), ["sft", "--set", "train.learning_rat=1", "--print-config"])
    assert res.exit_code != 0
    assert "did you mean 'train.learning_rate'" in str(res.exception)
