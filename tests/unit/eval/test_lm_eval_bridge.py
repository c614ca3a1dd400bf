"""lm-eval bridge: mapping simple_evaluate output to results.json, and its errors (no lm_eval needed)."""

from __future__ import annotations

import sys

import pytest

from r1cli.config.core import validate
from r1cli.config.eval import EvalConfig
from r1cli.errors import MissingDependencyError, R1Error
from r1cli.eval.lm_eval_bridge import headline, parse_tasks, run_lm_eval, to_results

OUT = {  # the parts of lm_eval.simple_evaluate's output the bridge reads (lm-eval 0.4.x layout)
    "results": {"gsm8k": {"alias": "gsm8k", "exact_match,strict-match": 0.25, "exact_match_stderr,strict-match": 0.05,
                          "exact_match,flexible-extract": 0.3, "exact_match_stderr,flexible-extract": "N/A"}},
    "configs": {"gsm8k": {"metric_list": [{"metric": "exact_match"}], "repeats": 1,
                          "generation_kwargs": {"until": ["Question:"], "do_sample": False}}},
    "n-samples": {"gsm8k": {"original": 1319, "effective": 100}},
    "n-shot": {"gsm8k": 5},
}


def test_headline_is_first_metric_first_filter():
    assert headline(OUT["results"]["gsm8k"], OUT["configs"]["gsm8k"]) == ("exact_match,strict-match", 0.25, 0.05)
    # a non-numeric stderr ("N/A") becomes None
    only_flex = {"exact_match,flexible-extract": 0.3, "exact_match_stderr,flexible-extract": "N/A"}
    assert headline(only_flex, {}) == ("exact_match,flexible-extract", 0.3, None)


def test_to_results_shape():
    res = to_results("gsm8k", OUT, "m", {"temperature": 0.6})
    assert set(res) == {"benchmark", "model", "num_problems", "n", "params", "metrics", "lm_eval"}
    assert res["benchmark"] == "lm-eval:gsm8k" and res["num_problems"] == 100 and res["n"] == 1
    assert res["metrics"]["pass@1"] == 0.25 and res["metrics"]["pass@1_stderr"] == 0.05
    assert res["metrics"]["pass@k"] == {"1": 0.25} and res["metrics"]["maj@k"] == {}
    assert res["metrics"]["truncated_rate"] is None and res["params"]["temperature"] == 0.6
    assert res["params"]["num_fewshot"] == 5 and "alias" not in res["lm_eval"]


def test_parse_tasks():
    assert parse_tasks("gsm8k, minerva_math500,") == ["gsm8k", "minerva_math500"]
    with pytest.raises(R1Error, match="at least one task"):
        parse_tasks(" , ")


def _cfg(**gen):
    return validate(EvalConfig, {"benchmarks": ["lm-eval:x"], "model": {"path": "m"}, "generation": gen})


def test_missing_lm_eval_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "lm_eval", None)  # import lm_eval -> ImportError
    with pytest.raises(MissingDependencyError, match=r"r1cli\[lmeval\]"):
        run_lm_eval("gsm8k", _cfg(), tmp_path)


def test_rejected_options(tmp_path):
    with pytest.raises(R1Error, match="drop --n"):
        run_lm_eval("gsm8k", _cfg(n=4), tmp_path)
    with pytest.raises(R1Error, match="hf or vllm"):
        run_lm_eval("gsm8k", _cfg(backend="openai"), tmp_path)
