"""`r1 eval` through typer: re-grading (--samples), results.json shape, compare, config errors."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from r1cli.commands.eval import eval_
from r1cli.errors import R1Error

RESULT_KEYS = {"benchmark", "model", "num_problems", "n", "params", "metrics"}
METRIC_KEYS = {"pass@1", "pass@1_stderr", "pass@k", "maj@k", "truncated_rate", "no_answer_rate", "mean_tokens"}


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("eval")(eval_)

    @app.callback()
    def _root() -> None:
        """r1 (test)."""

    return app


def _run(*args: str):
    return CliRunner().invoke(_app(), ["eval", *args], catch_exceptions=True)


def _sample(text: str, finish: str = "stop", tokens: int = 5) -> dict:
    return {"text": text, "finish_reason": finish, "num_tokens": tokens}


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_regrade_math_samples_file(tmp_path):
    recs = [
        # gold 9: texts 9, 8 -> c = 1
        {"id": "a", "problem": "p", "answer": "9", "model": "m0", "params": {"temperature": 0.6},
         "samples": [_sample("\\boxed{9}"), _sample("\\boxed{8}", "length", 7)]},
        # gold 1/2: both right -> c = 2
        {"id": "b", "problem": "q", "answer": "\\frac{1}{2}", "samples": [_sample("\\boxed{0.5}"), _sample("\\boxed{1/2}")]},
    ]
    path = _write(tmp_path / "s.jsonl", recs)
    out = tmp_path / "out"
    res = _run("math500", "--samples", str(path), "-o", str(out), "--json")
    assert res.exit_code == 0, res.output
    printed = json.loads(res.stdout)
    written = json.loads((out / "math500" / "results.json").read_text())
    assert printed == [written]
    assert set(written) == RESULT_KEYS and set(written["metrics"]) == METRIC_KEYS
    assert written["model"] == "m0" and written["n"] == 2 and written["num_problems"] == 2
    m = written["metrics"]
    # pass@1 = mean(1/2, 2/2) = 0.75; pass@2 = mean(1, 1) = 1; maj@2: a [9, 8] tie -> 9 ok; b ok -> 1
    assert m["pass@1"] == 0.75 and m["pass@k"] == {"1": 0.75, "2": 1.0} and m["maj@k"] == {"1": 1.0, "2": 1.0}
    assert m["truncated_rate"] == 0.25 and m["mean_tokens"] == pytest.approx(5.5)  # (5 + 7 + 5 + 5) / 4
    graded = [json.loads(x) for x in (out / "math500" / "samples.jsonl").read_text().splitlines()]
    assert [s["correct"] for s in graded[0]["samples"]] == [True, False]
    assert graded[0]["samples"][1]["extracted"] == "8" and graded[0]["benchmark"] == "math500"
    assert (out / "math500" / "pass_at_k.png").is_file() and (out / "config.yaml").is_file()
    # the graded file names its benchmark: re-grade it again without naming one, first sample only
    res2 = _run("--samples", str(out / "math500" / "samples.jsonl"), "--n", "1", "-o", str(tmp_path / "o2"), "--json")
    assert res2.exit_code == 0, res2.output
    assert json.loads(res2.stdout)[0]["metrics"]["pass@1"] == 1.0  # first samples: 9 right, 0.5 right


def test_regrade_sample_count_errors(tmp_path):
    recs = [{"id": "a", "answer": "1", "samples": [_sample("1"), _sample("2")]},
            {"id": "b", "answer": "1", "samples": [_sample("1")]}]
    path = _write(tmp_path / "s.jsonl", recs)
    res = _run("math500", "--samples", str(path), "-o", str(tmp_path / "o"))
    assert isinstance(res.exception, R1Error) and "exactly n=2" in str(res.exception)
    res = _run("math500", "--samples", str(path), "--n", "2", "-o", str(tmp_path / "o"))
    assert isinstance(res.exception, R1Error) and "fewer than n=2" in str(res.exception)


def test_regrade_countdown_joins_task_columns(tmp_path):
    from r1cli.eval.registry import load_benchmark

    first = load_benchmark("countdown", limit=1)[0]
    rec = {"id": first["id"], "problem": first["problem"],
           "samples": [_sample("\\boxed{" + first["answer"] + "}"), _sample("\\boxed{1+1}")]}
    path = _write(tmp_path / "s.jsonl", [rec])
    res = _run("countdown", "--samples", str(path), "-o", str(tmp_path / "o"), "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["metrics"]["pass@1"] == 0.5  # teacher answer right, 1+1 wrong
    stray = _write(tmp_path / "t.jsonl", [{**rec, "id": "nope"}])
    res = _run("countdown", "--samples", str(stray), "-o", str(tmp_path / "o2"))
    assert isinstance(res.exception, R1Error) and "'nope'" in str(res.exception)


def test_compare_cli(tmp_path):
    for run, value in (("a", 0.25), ("b", 0.5)):
        d = tmp_path / run / "math500"
        d.mkdir(parents=True)
        (d / "results.json").write_text(json.dumps({
            "benchmark": "math500", "model": run, "num_problems": 1, "n": 4, "params": {},
            "metrics": {"pass@1": value, "pass@1_stderr": None, "pass@k": {"1": value}, "maj@k": {"1": value},
                        "truncated_rate": 0, "no_answer_rate": 0, "mean_tokens": 1}}))
    res = _run("compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [data["table"]["math500"][str(tmp_path / r)]["pass@1"] for r in "ab"] == [0.25, 0.5]
    table = _run("compare", str(tmp_path / "a"), str(tmp_path / "b"))
    assert table.exit_code == 0 and "25.0" in table.stdout and "50.0" in table.stdout
    bad = _run("compare", str(tmp_path / "a"), "--model", "x")
    assert isinstance(bad.exception, R1Error) and "--model" in str(bad.exception)


def test_config_errors_before_loading_anything(tmp_path):
    cases = [
        ((), "name at least one benchmark"),
        (("math500",), "no model"),
        (("aime24", "math500", "--model", "m", "--data", str(tmp_path / "x.jsonl")), "one benchmark per --data"),
        (("math5000", "--model", "m"), "did you mean 'math500'"),
    ]
    for args, message in cases:
        res = _run(*args, "-o", str(tmp_path / "o"))
        assert isinstance(res.exception, R1Error), (args, res.output)
        assert message in str(res.exception)


def test_print_config_shows_protocol_overrides(tmp_path):
    res = _run("aime24", "--model", "m", "--n", "8", "--temperature", "0.7", "--print-config")
    assert res.exit_code == 0, res.output
    assert "benchmarks:\n- aime24" in res.stdout and "n: 8" in res.stdout and "temperature: 0.7" in res.stdout
