"""`r1 demo --quick`: every stage of the pipeline runs end to end on the tiny world (a smoke run;
the full demo's numbers are quoted in the issue notes, not asserted here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_quick_runs_every_stage_and_writes_the_report(tmp_path):
    out = tmp_path / "demo"
    res = subprocess.run([sys.executable, "-m", "r1cli", "demo", "--quick", "-o", str(out)], capture_output=True,
                         text=True, timeout=900, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["pass@1"]) == {"init", "sft", "grpo"}  # every model stage scored on held-out arith
    assert all(0.0 <= v <= 1.0 for v in summary["pass@1"].values())
    report = (out / "report.md").read_text()
    for stage in ("| data | data | done |", "| init | init-model | done |", "| sft | sft | done |", "| grpo | grpo | done |"):
        assert stage in report
    assert (out / "pass_at_1.png").stat().st_size > 0 and (out / "sft" / "final" / "config.json").is_file()
    for stage in ("init", "sft", "grpo"):
        assert json.loads((out / "heldout" / stage / "arith" / "results.json").read_text())["n"] == 4
    assert json.loads(res.stdout.strip().splitlines()[-1])["report"] == str(out / "report.md")
