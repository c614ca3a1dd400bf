"""End to end on the tiny world, offline: `r1 eval countdown` with the hf backend, re-grading, the
lm-eval bridge over a custom task YAML. Slow: the tiny tokenizer is trained once per module."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import REPO_ROOT
from tests.integration._eval_cli import run_eval_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from r1cli.models.tiny import init_tiny

    return init_tiny(tmp_path_factory.mktemp("tiny"), hidden_size=64, num_layers=2, intermediate_size=128)


def _lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_eval_countdown_offline(tiny_model, tmp_path):
    from r1cli.tasks import get_task

    out = tmp_path / "eval"
    args = ["countdown", "--model", str(tiny_model), "--n", "2", "--limit", "4", "--max-new-tokens", "12",
            "-o", str(out), "--json"]
    res = run_eval_cli(*args)
    assert res.exit_code == 0, res.output
    results = json.loads(res.stdout)[0]
    assert set(results) == {"benchmark", "model", "num_problems", "n", "params", "metrics"}
    assert (results["benchmark"], results["num_problems"], results["n"]) == ("countdown", 4, 2)
    assert results["params"]["max_new_tokens"] == 12 and results["params"]["temperature"] == 0.6
    samples_path = out / "countdown" / "samples.jsonl"
    records = _lines(samples_path)
    assert [r["id"] for r in records] == [f"countdown-0-{10000 + i}" for i in range(4)]
    assert all(len(r["samples"]) == 2 for r in records)
    # pass@1 agrees with the task's own checker applied to the written texts
    task = get_task("countdown")
    verdicts = [task.check(s["text"], r) for r in records for s in r["samples"]]
    assert [s["correct"] for r in records for s in r["samples"]] == verdicts
    assert results["metrics"]["pass@1"] == pytest.approx(sum(verdicts) / len(verdicts))
    assert all(0 < s["num_tokens"] <= 12 for r in records for s in r["samples"])
    # rerun: the samples are reused, not regenerated (same texts, file rewritten with the same lines)
    before = samples_path.read_text()
    again = run_eval_cli(*args)
    assert again.exit_code == 0, again.output
    assert samples_path.read_text() == before
    # re-grade from the samples file gives the same metrics
    regraded = run_eval_cli("--samples", str(samples_path), "-o", str(tmp_path / "regrade"), "--json")
    assert regraded.exit_code == 0, regraded.output
    assert json.loads(regraded.stdout)[0]["metrics"] == results["metrics"]
    # compare the two output folders
    cmp = run_eval_cli("compare", str(out), str(tmp_path / "regrade"), "--json")
    assert cmp.exit_code == 0, cmp.output
    table = json.loads(cmp.stdout)["table"]["countdown"]
    assert table[str(out)]["pass@1"] == table[str(tmp_path / "regrade")]["pass@1"] == results["metrics"]["pass@1"]


def test_evaluate_python_api(tiny_model, tmp_path):
    from r1cli.eval.runner import evaluate

    res = evaluate("arith", tiny_model, output_dir=tmp_path, n=3, limit=2, max_new_tokens=8)
    assert (res["benchmark"], res["n"], res["num_problems"]) == ("arith", 3, 2)
    assert res == json.loads((tmp_path / "arith" / "results.json").read_text())
    assert (tmp_path / "config.yaml").is_file() and (tmp_path / "arith" / "pass_at_k.png").is_file()
    assert set(res["metrics"]["pass@k"]) == {"1", "2", "3"}  # 1, 2, then n itself


def test_eval_lm_eval_bridge(tiny_model, tmp_path, monkeypatch):
    pytest.importorskip("lm_eval", reason="lm-eval (extra 'lmeval') is not installed")
    monkeypatch.chdir(REPO_ROOT)  # the task YAML names its JSONL relative to the repository root
    assert os.path.isfile("tests/data/lmeval/arith.jsonl")
    out = tmp_path / "lm"
    res = run_eval_cli("lm-eval:r1_tiny_arith", "--model", str(tiny_model), "--set",
                       "lm_eval.include_path=tests/data/lmeval", "-o", str(out), "--json")
    assert res.exit_code == 0, res.output
    results = json.loads(res.stdout)[0]
    assert results == json.loads((out / "lm-eval-r1_tiny_arith" / "results.json").read_text())
    assert results["benchmark"] == "lm-eval:r1_tiny_arith" and results["num_problems"] == 6 and results["n"] == 1
    m = results["metrics"]
    assert set(m) == {"pass@1", "pass@1_stderr", "pass@k", "maj@k", "truncated_rate", "no_answer_rate",
                      "mean_tokens"}
    assert m["pass@1"] == results["lm_eval"]["exact_match,boxed"] and 0.0 <= m["pass@1"] <= 1.0
    assert m["pass@k"] == {"1": m["pass@1"]}
    assert results["params"]["headline_metric"] == "exact_match,boxed"
    rows = _lines(out / "lm-eval-r1_tiny_arith" / "samples.jsonl")
    assert [r["id"] for r in rows] == [f"lmeval-arith-{i}" for i in range(6)]
    assert all(len(r["samples"]) == 1 for r in rows)
