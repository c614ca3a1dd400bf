"""Training logs shared by every trainer: ``metrics.jsonl``, a rich progress bar, optional
TensorBoard / Weights & Biases, and a loss-curve PNG.

* :class:`MetricsLogger` appends one JSON object per logged step to ``<output_dir>/metrics.jsonl``
  (flushed + fsynced). When a run resumes from step ``s`` the records after ``s`` (written by the
  killed run after its last checkpoint) are dropped, so the file reads as one uninterrupted run.
  ``report_to=["tensorboard"]`` / ``["wandb"]`` mirror the scalars there; a missing package raises
  :class:`~r1cli.errors.MissingDependencyError`.
* :class:`TrainProgress` shows step, loss, lr, tokens/s and ETA on stderr (a live bar on a terminal,
  one plain line per update otherwise).
* :func:`plot_loss_curve` draws chosen keys of ``metrics.jsonl`` against the step (matplotlib Agg).

Only the main process should create these with ``enabled=True``; disabled objects do nothing.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

from r1cli.errors import MissingDependencyError, R1Error

REPORTERS = ("tensorboard", "wandb")


def _clean(value: Any) -> Any:
    """JSON-safe scalar: tensors -> float, NaN/inf -> string ("nan", "inf")."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


class MetricsLogger:
    """Append-only metrics log (+ optional TensorBoard / W&B mirrors)."""

    def __init__(self, output_dir: str | os.PathLike, *, enabled: bool = True,
                 report_to: list[str] | tuple[str, ...] = (), run_name: str | None = None,
                 config: dict | None = None, resume_step: int | None = None,
                 filename: str = "metrics.jsonl"):
        self.enabled = enabled
        self.path = Path(output_dir) / filename
        self._appender = None
        self._tb = None
        self._wandb = None
        if not enabled:
            return
        from r1cli.data.io import JsonlAppender, atomic_write_jsonl, recover_jsonl

        if resume_step is not None:
            kept = [r for r in recover_jsonl(self.path) if int(r.get("step", 0)) <= resume_step]
            atomic_write_jsonl(self.path, kept)
        elif self.path.exists():
            self.path.unlink()  # a fresh run starts a fresh log
        # flushed per line (survives a killed process); no fsync: a resume rewrites the tail anyway
        self._appender = JsonlAppender(self.path, fsync=False)
        for name in report_to:
            if name not in REPORTERS:
                raise R1Error(f"unknown report_to '{name}'; one of: {', '.join(REPORTERS)}")
        if "tensorboard" in report_to:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise MissingDependencyError("tensorboard", "tensorboard", "report_to tensorboard") from None
            self._tb = SummaryWriter(log_dir=str(Path(output_dir) / "tensorboard"))
        if "wandb" in report_to:
            try:
                import wandb
            except ImportError:
                raise MissingDependencyError("wandb", "wandb", "report_to wandb") from None
            self._wandb = wandb.init(name=run_name, config=config or {}, dir=str(output_dir),
                                     resume="allow")

    def log(self, metrics: dict, step: int) -> dict:
        """Write ``{"step": step, **metrics}`` (and mirror it); return the record written."""
        record = {"step": int(step), **{k: _clean(v) for k, v in metrics.items()}}
        if not self.enabled or self._appender is None:
            return record
        self._appender.write(record)
        numeric = {k: v for k, v in record.items() if isinstance(v, (int, float)) and k != "step"}
        if self._tb is not None:
            for k, v in numeric.items():
                self._tb.add_scalar(k, v, step)
        if self._wandb is not None:
            self._wandb.log(numeric, step=step)
        return record

    def close(self) -> None:
        if self._appender is not None:
            self._appender.close()
            self._appender = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        if self._wandb is not None:
            self._wandb.finish()
            self._wandb = None

    def __enter__(self) -> MetricsLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TrainProgress:
    """Progress on stderr: ``step/total  loss  lr  tok/s  ETA``.

    ``update(step, **metrics)`` is called after each optimizer step (or each log step); the rate and
    ETA count only steps taken in this process (a resumed run does not inflate its speed).
    """

    def __init__(self, total_steps: int, *, initial_step: int = 0, enabled: bool = True,
                 description: str = "train"):
        self.total = max(1, int(total_steps))
        self.initial = int(initial_step)
        self.enabled = enabled
        self.description = description
        self._t0 = time.monotonic()
        self._progress = None
        self._task = None
        self._live = False
        if not enabled:
            return
        from r1cli.console import err

        self._console = err
        self._live = bool(err.is_terminal)
        if self._live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[stats]}"), TimeRemainingColumn(), console=err, transient=False)
            self._progress.start()
            self._task = self._progress.add_task(description, total=self.total, completed=self.initial,
                                                 stats="")

    def eta_seconds(self, step: int) -> float | None:
        done = step - self.initial
        if done <= 0:
            return None
        return (time.monotonic() - self._t0) / done * (self.total - step)

    @staticmethod
    def format_stats(metrics: dict) -> str:
        parts = []
        for key, fmt in (("loss", "loss {:.4f}"), ("lr", "lr {:.2e}"), ("tokens_per_s", "{:,.0f} tok/s"),
                         ("reward", "reward {:.3f}"), ("grad_norm", "gnorm {:.3f}")):
            v = metrics.get(key)
            if isinstance(v, (int, float)):
                parts.append(fmt.format(v))
        return "  ".join(parts)

    def update(self, step: int, **metrics: Any) -> None:
        if not self.enabled:
            return
        stats = self.format_stats(metrics)
        if self._progress is not None:
            self._progress.update(self._task, completed=step, stats=stats)
            return
        eta = self.eta_seconds(step)
        eta_s = f"  ETA {int(eta) // 60}:{int(eta) % 60:02d}" if eta is not None else ""
        self._console.print(f"{self.description} {step}/{self.total}  {stats}{eta_s}", soft_wrap=True)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> TrainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def plot_loss_curve(metrics_path: str | os.PathLike, png_path: str | os.PathLike, *,
                    keys: tuple[str, ...] = ("loss",), title: str | None = None) -> Path | None:
    """Plot ``keys`` of a ``metrics.jsonl`` against ``step`` into ``png_path``; ``None`` if no data."""
    from r1cli.data.io import recover_jsonl

    records = recover_jsonl(metrics_path)
    series = {k: [(r["step"], r[k]) for r in records if isinstance(r.get(k), (int, float))] for k in keys}
    series = {k: v for k, v in series.items() if v}
    if not series:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for k, pts in series.items():
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=k)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel(", ".join(series))
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    out = Path(png_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
