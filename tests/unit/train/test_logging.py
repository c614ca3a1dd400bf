"""metrics.jsonl appends, resume truncation, progress formatting, and the loss-curve PNG."""

import json

import pytest

from r1cli.errors import R1Error
from r1cli.train.logging import MetricsLogger, TrainProgress, plot_loss_curve


def _steps(path):
    return [json.loads(line)["step"] for line in path.read_text().splitlines()]


def test_metrics_log_and_resume_truncation(tmp_path):
    with MetricsLogger(tmp_path) as log:
        for s in range(1, 6):
            log.log({"loss": 1.0 / s, "lr": 0.1}, step=s)
    assert _steps(tmp_path / "metrics.jsonl") == [1, 2, 3, 4, 5]
    # a run killed after step 5 resumes from its checkpoint at step 3: steps 4, 5 are written again
    with MetricsLogger(tmp_path, resume_step=3) as log:
        log.log({"loss": 0.2}, step=4)
    assert _steps(tmp_path / "metrics.jsonl") == [1, 2, 3, 4]
    # a fresh run replaces the old log
    with MetricsLogger(tmp_path) as log:
        log.log({"loss": float("nan")}, step=1)
    assert json.loads((tmp_path / "metrics.jsonl").read_text()) == {"step": 1, "loss": "nan"}


def test_disabled_logger_writes_nothing(tmp_path):
    with MetricsLogger(tmp_path, enabled=False) as log:
        log.log({"loss": 1.0}, step=1)
    assert not (tmp_path / "metrics.jsonl").exists()


def test_unknown_reporter(tmp_path):
    with pytest.raises(R1Error, match="tensorboard"):
        MetricsLogger(tmp_path, report_to=["tensorbord"])


def test_progress_stats_format():
    s = TrainProgress.format_stats({"loss": 1.23456, "lr": 4e-5, "tokens_per_s": 12345.6})
    assert s == "loss 1.2346  lr 4.00e-05  12,346 tok/s"


def test_loss_curve_png(tmp_path):
    with MetricsLogger(tmp_path) as log:
        for s in range(1, 4):
            log.log({"loss": 3.0 - s}, step=s)
    out = plot_loss_curve(tmp_path / "metrics.jsonl", tmp_path / "loss.png")
    assert out is not None and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_loss_curve(tmp_path / "metrics.jsonl", tmp_path / "x.png", keys=("reward",)) is None
