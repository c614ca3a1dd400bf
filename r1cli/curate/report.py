"""Outputs of a curation run: kept/removed JSONL, stats.json, report.md and length histograms."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from r1cli.curate.length import count_tokens, length_text, load_tokenizer
from r1cli.curate.mix import InputSpec
from r1cli.curate.rows import Row


def length_summary(lengths: list[int]) -> dict[str, float]:
    """mean, median, p90, p99, max of ``lengths`` (zeros when empty). Example: [1, 2, 3, 10] ->
    mean 4.0, median 2.5 (numpy linear interpolation)."""
    if not lengths:
        return {"mean": 0.0, "median": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}
    a = np.asarray(lengths, dtype=np.float64)
    return {"mean": round(float(a.mean()), 1), "median": float(np.median(a)),
            "p90": round(float(np.percentile(a, 90)), 1), "p99": round(float(np.percentile(a, 99)), 1),
            "max": float(a.max())}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "input"


def _histogram(path: Path, source: str, before: list[int], after: list[int], unit: str) -> None:
    from matplotlib.figure import Figure  # Agg canvas, no pyplot state, no display needed

    fig = Figure(figsize=(6, 3.5))
    ax = fig.add_subplot(1, 1, 1)
    top = max(before + after + [1])
    bins = np.linspace(0, top, 41)
    ax.hist(before, bins=bins, color="0.75", label=f"input ({len(before)})")
    ax.hist(after, bins=bins, color="tab:blue", alpha=0.8, label=f"kept ({len(after)})")
    ax.set_xlabel(f"length ({unit})")
    ax.set_ylabel("rows")
    ax.set_title(f"{source}: {unit} length")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def write_outputs(out: Path, *, inputs: list[InputSpec], mixed: list[Row], kept: list[Row],
                  removed: list[Row], step_stats: list[dict], tokenizer: Any, seed: int,
                  plots: bool = True) -> dict:
    """Write kept.jsonl, removed.jsonl, stats.json, report.md and one PNG per source; return stats."""
    from r1cli.data.io import atomic_write_json, atomic_write_jsonl, atomic_write_text

    atomic_write_jsonl(out / "kept.jsonl", kept)
    atomic_write_jsonl(out / "removed.jsonl", removed)
    unit = "tokens" if tokenizer is not None else "characters"
    tok = load_tokenizer(tokenizer) if tokenizer is not None else None

    def lengths(rows: list[Row]) -> list[int]:
        texts = [length_text(r, "auto") for r in rows]
        return count_tokens(tok, texts) if tok is not None else [len(t) for t in texts]

    sources = [spec.source for spec in inputs]
    per_source: list[dict] = []
    for source in dict.fromkeys(sources):
        before = lengths([r for r in mixed if r.get("source") == source])
        after = lengths([r for r in kept if r.get("source") == source])
        png = f"length_{_safe(source)}.png" if plots else None
        if png:
            _histogram(out / png, source, before, after, unit)
        per_source.append({"source": source, "rows": len(before), "kept": len(after), "plot": png,
                           "kept_length": length_summary(after)})
    stats = {
        "seed": seed,
        "inputs": [{"path": s.path, "source": s.source, "weight": s.weight} for s in inputs],
        "steps": [{k: m[k] for k in ("index", "name", "in", "out", "removed", "seconds", "resumed")}
                  for m in step_stats],
        "kept": len(kept),
        "removed": len(removed),
        "removed_by": dict(Counter(r["removed_by"] for r in removed)),
        "length_unit": unit,
        "sources": per_source,
    }
    atomic_write_json(out / "stats.json", stats)
    atomic_write_text(out / "report.md", _report_md(stats))
    return stats


def _report_md(stats: dict) -> str:
    unit = stats["length_unit"]
    lines = ["# Curation report", "",
             f"{stats['kept']} rows kept, {stats['removed']} removed (seed {stats['seed']}). "
             "Reasons are in `removed.jsonl` (`removed_by`, `reason`).", "",
             "| # | step | in | kept | removed | seconds | resumed |", "|---|---|---:|---:|---:|---:|---|"]
    for s in stats["steps"]:
        lines.append(f"| {s['index']} | {s['name']} | {s['in']} | {s['out']} | {s['removed']} | "
                     f"{s['seconds']} | {'yes' if s['resumed'] else 'no'} |")
    how = ("under the given tokenizer" if unit == "tokens"
           else "in characters: no tokenizer was given, so these are not token counts")
    lines += ["", f"## Length per input dataset ({unit})", "",
              f"Length of each row's reference solution (or its problem when it has none), {how}. "
              "Grey: rows after mixing; blue: rows kept.", "",
              "| source | rows | kept | mean | median | p90 | p99 | max |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for s in stats["sources"]:
        q = s["kept_length"]
        lines.append(f"| {s['source']} | {s['rows']} | {s['kept']} | {q['mean']} | {q['median']} | "
                     f"{q['p90']} | {q['p99']} | {q['max']} |")
    lines.append("")
    for s in stats["sources"]:
        if s["plot"]:
            lines += [f"![{s['source']} length histogram]({s['plot']})", ""]
    return "\n".join(lines)
