"""`r1 curate` through the command line: flags map onto inputs, steps and step parameters."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from r1cli.app import app
from tests.conftest import benchmark_dir

runner = CliRunner()


def test_curate_cli_removes_duplicate_and_contaminated_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("R1_BENCHMARK_DIR", str(benchmark_dir()))
    math500 = [json.loads(x) for x in (benchmark_dir() / "math500.jsonl").read_text().splitlines()[:2]]
    rows = [{"id": f"p{i}", "problem": f"Compute {i} times {i + 3} plus the apples in basket {i}.", "answer": "1"}
            for i in range(10)]
    rows.append({"id": "dup", "problem": "Compute  3 times 6 plus the apples\nin basket 3.", "answer": "1"})
    a = tmp_path / "a.jsonl"
    a.write_text("".join(json.dumps(r) + "\n" for r in rows))
    b = tmp_path / "b.jsonl"
    b.write_text("".join(json.dumps({"id": f"leak{i}", "problem": r["problem"], "answer": r["answer"]}) + "\n"
                         for i, r in enumerate(math500)))
    out = tmp_path / "out"
    res = runner.invoke(app, ["curate", "--data", str(a), "--data", str(b), "--steps", "normalize,dedup,decontam",
                              "--benchmarks", "math500", "-o", str(out)])
    assert res.exit_code == 0, res.output
    removed = {r["id"]: r["removed_by"] for r in map(json.loads, (out / "removed.jsonl").read_text().splitlines())}
    assert removed == {"dup": "dedup", "leak0": "decontam", "leak1": "decontam"}
    assert len((out / "kept.jsonl").read_text().splitlines()) == 10
    assert "decontam:" in (out / "config.yaml").read_text()


def test_curate_cli_errors(tmp_path):
    res = runner.invoke(app, ["curate", "-o", str(tmp_path)])
    assert res.exit_code != 0  # no inputs
    res = runner.invoke(app, ["curate", "--data", "x.jsonl", "--weight", "0.5", "--weight", "0.5", "-o", str(tmp_path)])
    assert res.exit_code != 0 and "--weight given 2 times for 1" in str(res.exception)
