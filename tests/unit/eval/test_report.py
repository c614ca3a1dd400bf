"""results table, pass@k plot and `compare`."""

from __future__ import annotations

import json

import pytest

from r1cli.errors import R1Error
from r1cli.eval.report import compare_runs, find_results, pass1_cell, plot_pass_at_k, results_table


def _result(bench, pass1, stderr, maj, n=4):
    return {"benchmark": bench, "model": "m", "num_problems": 10, "n": n, "params": {},
            "metrics": {"pass@1": pass1, "pass@1_stderr": stderr, "pass@k": {"1": pass1, "2": 0.9, "4": 0.95},
                        "maj@k": {"1": pass1, "2": 0.7, "4": maj}, "truncated_rate": 0.0,
                        "no_answer_rate": 0.1, "mean_tokens": 123.4}}


def _write(root, res):
    d = root / res["benchmark"]
    d.mkdir(parents=True)
    (d / "results.json").write_text(json.dumps(res))


def test_pass1_cell_in_percent():
    assert pass1_cell({"pass@1": 0.8314, "pass@1_stderr": 0.0162}) == "83.1 ± 1.6"
    assert pass1_cell({"pass@1": 0.5, "pass@1_stderr": None}) == "50.0"


def test_table_renders_rows():
    from rich.console import Console

    console = Console(record=True, width=200)
    console.print(results_table([_result("math500", 0.5, 0.1, 0.75)]))
    text = console.export_text()
    assert "math500" in text and "50.0 ± 10.0" in text and "75.0 (k=4)" in text


def test_plot_writes_png(tmp_path):
    path = plot_pass_at_k(_result("math500", 0.5, 0.1, 0.75), tmp_path / "p.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_two_runs(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _write(a, _result("math500", 0.5, 0.1, 0.75))
    _write(a, _result("aime24", 0.2, 0.05, 0.3, n=64))
    _write(b, _result("math500", 0.6, 0.1, 0.8))
    data = compare_runs([str(a), str(b)])
    assert data["runs"] == [str(a), str(b)]
    assert sorted(data["benchmarks"]) == ["aime24", "math500"]
    assert data["table"]["math500"][str(b)]["pass@1"] == 0.6
    assert data["table"]["math500"][str(a)]["maj@k"] == 0.75 and data["table"]["math500"][str(a)]["k"] == 4
    assert str(b) not in data["table"]["aime24"]
    assert len(find_results(a / "math500")) == 1


def test_compare_errors(tmp_path):
    with pytest.raises(R1Error, match="no results.json"):
        compare_runs([str(tmp_path)])
    with pytest.raises(R1Error, match="no such file"):
        compare_runs([str(tmp_path / "missing")])
    (tmp_path / "results.json").write_text("{}")
    with pytest.raises(R1Error, match="not an r1 eval results.json"):
        compare_runs([str(tmp_path)])
