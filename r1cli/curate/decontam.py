"""The ``decontam`` step: drop training rows that overlap evaluation benchmarks.

A row is contaminated by a benchmark problem when (checked in this order)

1. ``exact``: their :func:`~r1cli.curate.text.match_key` texts are equal (NFKC, lower-case,
   whitespace collapsed; with ``strip_digits`` digits removed too). This is what catches problems
   shorter than ``ngram`` words, which have no n-grams at all;
2. ``ngram``: they share at least one word ``ngram``-gram (words as in
   :func:`~r1cli.curate.text.words`; n = 8 by default, as open-r1 and s1 use).

Each removed row gets ``reason`` (``"contaminated: math500/math500-17 (8-gram overlap)"``) and a
``contamination`` column ``{"benchmark", "id", "match", "ngram"?}`` naming the first benchmark row
hit (benchmarks in the order given, rows in file order).

Benchmarks are names (``math500`` -> ``$R1_BENCHMARK_DIR/math500.jsonl``, default directory
``<repo>/../shared/data/benchmarks``) or file paths.
"""

from __future__ import annotations

import os
from pathlib import Path

from r1cli.curate.rows import Row, StepResult, mark_removed, text_of
from r1cli.curate.text import match_key, words
from r1cli.errors import R1Error, did_you_mean

BENCHMARK_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")


def default_benchmark_dir() -> Path:
    """``$R1_BENCHMARK_DIR``, else ``<repo root>/../shared/data/benchmarks`` (repo root found from here)."""
    env = os.environ.get("R1_BENCHMARK_DIR")
    if env:
        return Path(env).expanduser()
    repo_root = Path(__file__).resolve().parents[2]  # r1cli/curate/decontam.py -> repo
    return repo_root.parent / "shared" / "data" / "benchmarks"


def resolve_benchmark_file(name: str) -> Path:
    """A benchmark name (``math500``) or a file path -> the file to read.

    Raises R1Error naming the benchmark and listing the names found in the benchmark directory.
    """
    p = Path(name).expanduser()
    if p.is_file():
        return p
    if p.suffix.lower() in BENCHMARK_SUFFIXES or os.sep in name:
        raise R1Error(f"decontam: benchmark file {p} not found")
    bdir = default_benchmark_dir()
    candidate = bdir / f"{name}.jsonl"
    if candidate.is_file():
        return candidate
    found = sorted(f.stem for f in bdir.glob("*.jsonl")) if bdir.is_dir() else []
    where = f"{bdir} (set R1_BENCHMARK_DIR to change)" if bdir.is_dir() else \
        f"{bdir}, which does not exist (set R1_BENCHMARK_DIR or give a file path)"
    have = f"; available: {', '.join(found)}" if found else ""
    raise R1Error(f"decontam: unknown benchmark '{name}'{did_you_mean(name, found)}: no {name}.jsonl in "
                  f"{where}{have}")


class BenchmarkIndex:
    """Exact keys and word n-grams of benchmark problems -> the first (benchmark, id) holding them."""

    def __init__(self, ngram: int = 8, *, strip_digits: bool = False):
        if ngram < 1:
            raise R1Error(f"decontam.ngram: {ngram} must be >= 1")
        self.ngram = ngram
        self.strip_digits = strip_digits
        self.exact: dict[str, tuple[str, str]] = {}
        self.grams: dict[str, tuple[str, str]] = {}
        self.sizes: dict[str, int] = {}

    def add(self, benchmark: str, rows: list[Row], field: str = "problem") -> None:
        """Index every row's ``field`` under ``benchmark``; ids are ``row["id"]``."""
        for row in rows:
            text = text_of(row, field, "decontam")
            hit = (benchmark, str(row["id"]))
            self.exact.setdefault(match_key(text, strip_digits=self.strip_digits), hit)
            for g in self._ngrams(text):
                self.grams.setdefault(g, hit)
        self.sizes[benchmark] = self.sizes.get(benchmark, 0) + len(rows)

    def _ngrams(self, text: str) -> list[str]:
        ws, n = words(text), self.ngram
        return [" ".join(ws[i:i + n]) for i in range(len(ws) - n + 1)]

    def lookup(self, text: str) -> dict | None:
        """``{"benchmark", "id", "match", "ngram"?}`` for the first hit, or None when clean."""
        hit = self.exact.get(match_key(text, strip_digits=self.strip_digits))
        if hit is not None:
            return {"benchmark": hit[0], "id": hit[1], "match": "exact"}
        for g in self._ngrams(text):
            hit = self.grams.get(g)
            if hit is not None:
                return {"benchmark": hit[0], "id": hit[1], "match": f"{self.ngram}-gram", "ngram": g}
        return None


def load_benchmark(name: str) -> tuple[str, list[Row]]:
    """(benchmark name, rows) for a name or a path; the name of a path is its file stem."""
    from r1cli.data.io import load_problems

    path = resolve_benchmark_file(name)
    return (path.stem if Path(name).suffix or os.sep in name else name), load_problems(path, answer_field=None)


def decontam_rows(rows: list[Row], *, benchmarks: tuple[str, ...] | list[str] = ("math500",),
                  ngram: int = 8, field: str = "problem", strip_digits: bool = False,
                  benchmark_field: str = "problem") -> StepResult:
    """Remove rows whose ``field`` matches a benchmark problem (see the module docstring)."""
    if not benchmarks:
        raise R1Error("decontam.benchmarks: empty; name at least one benchmark (e.g. math500) or file")
    index = BenchmarkIndex(ngram, strip_digits=strip_digits)
    for name in benchmarks:
        bench, bench_rows = load_benchmark(name)
        index.add(bench, bench_rows, benchmark_field)
    kept, removed = [], []
    for row in rows:
        hit = index.lookup(text_of(row, field, "decontam"))
        if hit is None:
            kept.append(row)
            continue
        how = "exact normalised match" if hit["match"] == "exact" else f"{ngram}-gram overlap"
        out = mark_removed(row, "decontam", f"contaminated: {hit['benchmark']}/{hit['id']} ({how})")
        out["contamination"] = hit
        removed.append(out)
    return kept, removed
