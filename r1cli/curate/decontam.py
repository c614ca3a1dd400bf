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

Benchmarks are file paths (named by their stem) or names, resolved by the eval registry exactly as
``r1 eval`` reads them (:func:`r1cli.eval.registry.resolve_benchmark`): ``math500`` is
``$R1_BENCHMARK_DIR/math500.jsonl`` when that file exists, else the hub dataset
``HuggingFaceH4/MATH-500`` (through the ``datasets`` cache; offline, the cache only). A name the
registry does not know is a file ``$R1_BENCHMARK_DIR/<name>.jsonl`` of your own. When neither place
has it, the error names both.
"""

from __future__ import annotations

import os
from pathlib import Path

from r1cli.curate.rows import Row, StepResult, mark_removed, text_of
from r1cli.curate.text import match_key, words
from r1cli.errors import R1Error

BENCHMARK_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")
FILE_HINT = "give the file's path in --benchmarks"


def is_benchmark_path(name: str) -> bool:
    """Whether ``name`` is meant as a file (it exists, has a data suffix, or a directory part)."""
    return Path(name).expanduser().is_file() or Path(name).suffix.lower() in BENCHMARK_SUFFIXES or (
        os.sep in name or "/" in name)


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
    """(benchmark name, rows) for a path (named by its stem) or a name (see the module docstring)."""
    from r1cli.data.io import load_problems
    from r1cli.eval.registry import resolve_benchmark

    if is_benchmark_path(name):
        path = Path(name).expanduser()
        if not path.is_file():
            raise R1Error(f"decontam: benchmark file {path} not found")
        return path.stem, load_problems(path, answer_field=None)
    return resolve_benchmark(name, file_hint=FILE_HINT)


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
