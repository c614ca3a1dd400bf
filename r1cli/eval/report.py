"""Showing eval results: a rich table, a pass@k / maj@k plot, and several runs side by side.

Results dicts have the results.json shape (see :mod:`r1cli.eval.runner`). Tables go to stdout
(``r1cli.console.out``); ``--json`` callers print :func:`json.dumps` of the same data instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from r1cli.errors import R1Error


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}"


def _last(curve: dict[str, float] | None) -> tuple[str, float | None]:
    """The largest-k entry of a curve ``{"1": .., "2": ..}`` as ``(k, value)``."""
    if not curve:
        return "", None
    k = max(curve, key=int)
    return k, curve[k]


def pass1_cell(metrics: dict[str, Any]) -> str:
    """``"83.1 ± 1.6"`` (percent; the ± is one standard error), or ``"83.1"`` without a stderr."""
    value, err = metrics.get("pass@1"), metrics.get("pass@1_stderr")
    return _pct(value) if err is None else f"{_pct(value)} ± {_pct(err)}"


def results_table(results: list[dict[str, Any]], title: str = "r1 eval") -> Any:
    """A rich Table with one row per benchmark result (values in percent)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col, justify in [("benchmark", "left"), ("model", "left"), ("problems", "right"), ("n", "right"),
                         ("pass@1 %", "right"), ("maj@k %", "right"), ("pass@k %", "right"),
                         ("trunc %", "right"), ("no-ans %", "right"), ("tokens", "right")]:
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in results:
        m = r.get("metrics", {})
        mk, mv = _last(m.get("maj@k"))
        pk, pv = _last(m.get("pass@k"))
        tokens = m.get("mean_tokens")
        table.add_row(
            str(r.get("benchmark")), _short(str(r.get("model"))), str(r.get("num_problems")), str(r.get("n")),
            pass1_cell(m), f"{_pct(mv)} (k={mk})" if mk else "–", f"{_pct(pv)} (k={pk})" if pk else "–",
            _pct(m.get("truncated_rate")), _pct(m.get("no_answer_rate")),
            "–" if tokens is None else f"{tokens:.0f}",
        )
    return table


def _short(model: str, width: int = 40) -> str:
    return model if len(model) <= width else "…" + model[-(width - 1):]


def print_results(results: list[dict[str, Any]], *, as_json: bool = False) -> None:
    """Print results to stdout: a table, or JSON (a list, one object per benchmark) for machines."""
    from r1cli.console import out

    if as_json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    else:
        out.print(results_table(results))


def plot_pass_at_k(results: dict[str, Any], path: str | os.PathLike) -> Path:
    """Save pass@k and maj@k against k (log2 axis) for one benchmark result as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = results["metrics"]
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
    for key, label, style in [("pass@k", "pass@k", "o-"), ("maj@k", "maj@k", "s--")]:
        curve = m.get(key) or {}
        if curve:
            ks = sorted(curve, key=int)
            ax.plot([int(k) for k in ks], [100 * curve[k] for k in ks], style, label=label)
    if m.get("pass@1") is not None:
        ax.axhline(100 * m["pass@1"], color="grey", lw=0.8, ls=":", label="pass@1")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k (samples)")
    ax.set_ylabel("%")
    ax.set_ylim(0, 100)
    ax.set_title(f"{results.get('benchmark')} · n={results.get('n')} · {results.get('num_problems')} problems",
                 fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


# ---------------------------------------------------------------------------------------------- compare


def find_results(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Every results.json under ``path`` (a results.json file, a benchmark dir or an eval output dir)."""
    from r1cli.data.io import read_json_file

    p = Path(path)
    if p.is_file():
        files = [p]
    elif p.is_dir():
        files = sorted(p.glob("results.json")) or sorted(p.glob("*/results.json")) or sorted(p.rglob("results.json"))
    else:
        raise R1Error(f"eval compare: {p}: no such file or directory")
    if not files:
        raise R1Error(f"eval compare: no results.json under {p}; pass the --output-dir of an 'r1 eval' run")
    out = []
    for f in files:
        data = read_json_file(f)
        if not isinstance(data, dict) or "metrics" not in data or "benchmark" not in data:
            raise R1Error(f"{f}: not an r1 eval results.json (needs 'benchmark' and 'metrics')")
        out.append(data)
    return out


def compare_runs(paths: list[str | os.PathLike]) -> dict[str, Any]:
    """Collect runs for side-by-side display.

    Returns ``{"runs": [label, ...], "benchmarks": [name, ...], "table": {benchmark: {label: {"pass@1",
    "pass@1_stderr", "maj@k", "k", "n", "model"}}}}``; a run label is its path as given.
    """
    if not paths:
        raise R1Error("eval compare: name at least one run directory: r1 eval compare runs/a runs/b")
    runs, benchmarks, table = [], [], {}  # type: ignore[var-annotated]
    for path in paths:
        label = str(path)
        runs.append(label)
        for res in find_results(path):
            name = str(res["benchmark"])
            if name not in benchmarks:
                benchmarks.append(name)
            m = res["metrics"]
            k, maj = _last(m.get("maj@k"))
            table.setdefault(name, {})[label] = {"pass@1": m.get("pass@1"), "pass@1_stderr": m.get("pass@1_stderr"),
                                                 "maj@k": maj, "k": int(k) if k else None, "n": res.get("n"),
                                                 "model": res.get("model")}
    return {"runs": runs, "benchmarks": benchmarks, "table": table}


def print_compare(data: dict[str, Any], *, as_json: bool = False) -> None:
    """Print :func:`compare_runs` output: benchmarks as rows, runs as columns (pass@1 ± stderr, maj@k)."""
    from rich.table import Table

    from r1cli.console import out

    if as_json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return
    table = Table(title="r1 eval compare (pass@1 % ± stderr; maj@k %)", title_justify="left")
    table.add_column("benchmark")
    for label in data["runs"]:
        table.add_column(_short(label, 30), justify="right")
    for name in data["benchmarks"]:
        cells = []
        for label in data["runs"]:
            entry = data["table"].get(name, {}).get(label)
            if entry is None:
                cells.append("–")
                continue
            maj = f" · maj@{entry['k']} {_pct(entry['maj@k'])}" if entry.get("k") else ""
            cells.append(pass1_cell(entry) + f" (n={entry['n']})" + maj)
        table.add_row(name, *cells)
    out.print(table)
