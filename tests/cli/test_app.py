"""The `r1` command itself: help, version, the error contract, lazy imports."""

from __future__ import annotations

import os
import subprocess
import sys

from typer.testing import CliRunner

from r1cli import __version__
from r1cli.app import app

runner = CliRunner()
SIX = ["curate", "sft", "grpo", "distill", "sample", "eval"]
HELPERS = ["demo", "presets", "init-model", "data"]


def r1(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "r1cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_help_lists_every_command():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for name in SIX + HELPERS:
        assert name in res.output


def test_version():
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"r1 {__version__}"


def test_help_does_not_import_torch():
    code = "import sys, r1cli.app; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"


def test_user_error_is_one_red_line_exit_2_no_traceback():
    res = r1("presets", "show", "no-such-preset")
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: unknown preset 'no-such-preset'")
    assert "Traceback" not in res.stderr and res.stdout == ""


def test_r1_debug_shows_traceback():
    res = r1("presets", "show", "no-such-preset", env={"R1_DEBUG": "1"})
    assert res.returncode != 0 and "Traceback" in res.stderr and "R1Error" in res.stderr


def test_unknown_option_is_usage_error_exit_2():
    res = runner.invoke(app, ["presets", "list", "--nope"])
    assert res.exit_code == 2


def test_init_model_unknown_kind_did_you_mean():
    res = r1("init-model", "tiyn", "--output", "/tmp/never-written")
    assert res.returncode == 2 and "did you mean 'tiny'" in res.stderr
