"""The report's per-stage measures over graded held-out samples, by hand."""

from __future__ import annotations

import pytest

from r1cli.config.core import resolve_config
from r1cli.config.pipeline import PipelineConfig
from r1cli.errors import R1Error
from r1cli.pipeline.report import stage_measures


def test_stage_measures_by_hand():
    records = [
        {"samples": [
            {"text": "<think>add 3+4=7</think> \\boxed{7}", "num_tokens": 10, "correct": True},
            {"text": "<think>add 3+4=8. Wait, 加 3+4=7</think> \\boxed{7}", "num_tokens": 20, "correct": True},
        ]},
        {"samples": [
            {"text": "<think>加 5+5=10</think> \\boxed{11}", "num_tokens": 30, "correct": False},
            {"text": "<think>5+5=10</think> \\boxed{10}", "num_tokens": None, "correct": True},  # no words: 1.0
        ]},
    ]
    m = stage_measures(records, "en")
    assert m["mean_tokens_correct"] == 15.0 and m["mean_tokens_wrong"] == 30.0
    assert m["reflection_per_1k_tokens"] == pytest.approx(1000 * 1 / 60)  # one "Wait" in 60 counted tokens
    # consistency: 1, 2/3 (add, Wait | 加), 0, 1 -> mean 2/3 / ... ; mixed: 2 of 4
    assert m["language_consistency"] == pytest.approx((1 + 2 / 3 + 0 + 1) / 4)
    assert m["mixed_language_share"] == 0.5
    assert stage_measures(records, "zh")["language_consistency"] == pytest.approx((0 + 1 / 3 + 1 + 1) / 4)
    assert stage_measures([], "en")["language_consistency"] is None


def test_report_lang_is_checked_when_the_config_is_built():
    with pytest.raises(R1Error, match="did you mean 'zh'"):
        resolve_config(PipelineConfig, command="pipeline", flags={"report": {"lang": "zhh"}})
