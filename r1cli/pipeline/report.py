"""``report.md`` and ``pass_at_1.png`` of a pipeline run, from the stage markers and held-out samples.

Per stage: its kind, status, time, and for a stage that outputs a model its held-out pass@1 (± std-err)
with the measures of :func:`stage_measures` over the graded samples of its evaluation (mean length of
correct and wrong answers, reflection words per 1,000 tokens, language consistency of the thoughts).
"""

from __future__ import annotations

from pathlib import Path

from r1cli.pipeline import state
from r1cli.pipeline.spec import Plan


def stage_measures(records: list[dict], lang: str = "en") -> dict:
    """Measures of graded sample records (``r1 eval``'s samples.jsonl): mean tokens of correct and of
    wrong samples, reflection words per 1,000 tokens (the GRPO metrics' vocabulary), the mean language
    consistency of the thoughts in ``lang`` (R1's language reward) and the share of samples whose
    thought mixes in another language (consistency < 1)."""
    from r1cli.config.grpo import REFLECTION_WORDS
    from r1cli.rewards.language import language_consistency, thought_of
    from r1cli.train.grpo_metrics import count_reflections

    samples = [s for r in records for s in r.get("samples", [])]
    right = [s["num_tokens"] for s in samples if s.get("correct") is True and isinstance(s.get("num_tokens"), int)]
    wrong = [s["num_tokens"] for s in samples if s.get("correct") is False and isinstance(s.get("num_tokens"), int)]
    tokens = sum(s["num_tokens"] for s in samples if isinstance(s.get("num_tokens"), int))
    reflections = sum(count_reflections(s.get("text", ""), REFLECTION_WORDS) for s in samples)
    consistency = [language_consistency(thought_of(s.get("text", "")), lang) for s in samples]
    return {"mean_tokens_correct": sum(right) / len(right) if right else None,
            "mean_tokens_wrong": sum(wrong) / len(wrong) if wrong else None,
            "reflection_per_1k_tokens": 1000.0 * reflections / tokens if tokens else None,
            "language_consistency": sum(consistency) / len(consistency) if consistency else None,
            "mixed_language_share": sum(c < 1 for c in consistency) / len(consistency) if consistency else None}


def _fmt(value, spec: str = ".1f") -> str:
    return "–" if value is None else format(value, spec)


def _rows(plan: Plan) -> list[dict]:
    from r1cli.data.io import read_jsonl

    statuses = state.statuses(plan)
    rows = []
    for stage in plan.stages:
        marker = state.read_marker(plan, stage.name) or {}
        ev = marker.get("eval") or {}
        metrics = ev.get("metrics") or {}
        row = {"stage": stage.name, "kind": stage.kind.name, "status": statuses[stage.name].state,
               "seconds": marker.get("seconds"), "pass@1": metrics.get("pass@1"),
               "stderr": metrics.get("pass@1_stderr"), "output": str(stage.output)}
        samples = state.eval_dir(plan, stage) / str(ev.get("benchmark")) / "samples.jsonl"
        if ev and samples.is_file():
            row.update(stage_measures(list(read_jsonl(samples)), plan.config.report.lang))
        rows.append(row)
    return rows


def _plot(rows: list[dict], path: Path, title: str) -> Path | None:
    scored = [r for r in rows if r["pass@1"] is not None]
    if not scored:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(scored) + 1.5), 3.2))
    xs = range(len(scored))
    ax.bar(xs, [r["pass@1"] for r in scored], yerr=[r["stderr"] or 0 for r in scored], color="#4a7", capsize=4)
    for x, r in zip(xs, scored, strict=True):
        ax.text(x, r["pass@1"] + 0.02, f"{r['pass@1']:.2f}", ha="center")
    ax.set_xticks(list(xs), [r["stage"] for r in scored], rotation=20)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("held-out pass@1")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(plan: Plan) -> Path:
    """Write ``<output_dir>/report.md`` (+ ``pass_at_1.png``); return its path."""
    from r1cli.data.io import atomic_write_text

    rep = plan.config.report
    rows = _rows(plan)
    png = _plot(rows, plan.out / "pass_at_1.png", f"{plan.out.name}: held-out pass@1 by stage")
    bench = f"`{rep.benchmark}`" + (f" ({plan.report_data})" if plan.report_data else "")
    lines = [f"# r1 pipeline: {plan.out.name}", ""]
    if rep.benchmark:
        lines += [f"Held-out evaluation of every stage that outputs a model: {bench}, n = {rep.n} samples per "
                  f"problem, {rep.limit or 'all'} problems, temperature {rep.temperature}, top-p {rep.top_p}; "
                  "pass@1 averaged over the samples, ± its standard error.", ""]
    lines += ["| stage | kind | status | time (s) | pass@1 | ± stderr | tokens (correct) | tokens (wrong) | "
              f"reflection /1k tok | language ({rep.lang}) | mixed |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['stage']} | {r['kind']} | {r['status']} | {_fmt(r['seconds'], '.0f')} | "
                     f"{_fmt(r['pass@1'], '.3f')} | {_fmt(r['stderr'], '.3f')} | {_fmt(r.get('mean_tokens_correct'))} | "
                     f"{_fmt(r.get('mean_tokens_wrong'))} | {_fmt(r.get('reflection_per_1k_tokens'), '.2f')} | "
                     f"{_fmt(r.get('language_consistency'), '.3f')} | {_fmt(r.get('mixed_language_share'), '.1%')} |")
    if png is not None:
        lines += ["", f"![held-out pass@1 by stage]({png.name})"]
    curves = [p for s in plan.stages if s.dir.is_dir() for p in sorted(s.dir.glob("*.png"))]
    if curves:
        lines += ["", "## Training curves", ""]
        lines += [f"![{p.parent.name}: {p.stem}]({p.relative_to(plan.out)})" for p in curves]
    path = plan.out / "report.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
