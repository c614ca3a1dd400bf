"""Shared helpers for the curate tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# 66 words + 4 symbols ("." x3, "?") = 70 tokens as dedup reads them (r1cli.curate.text.tokens), 66
# distinct 5-gram shingles. One word changed in the middle ("shorter") replaces 5 of the 66
# shingles, so the pair's Jaccard is (66 - 5) / (66 + 5) = 61 / 71 ≈ 0.859 >= 0.8.
LONG_PROBLEM = (
    "A farmer has a rectangular field whose length is three times its width and whose perimeter "
    "is four hundred meters . He divides the field into two parts with a fence parallel to the "
    "shorter side so that one part is a square . He then plants wheat in the square part and corn "
    "in the other part . What is the area planted with corn in square meters ?"
)


@pytest.fixture
def long_problem() -> str:
    return LONG_PROBLEM


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def jsonl_writer():
    """``write(path, rows) -> path``: write rows as JSONL."""
    return write_jsonl


@pytest.fixture
def bench_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private benchmark directory (R1_BENCHMARK_DIR) with one small hand-made benchmark 'toy'."""
    d = tmp_path / "benchmarks"
    d.mkdir()
    write_jsonl(d / "toy.jsonl", [
        {"id": "toy-0", "problem": "Let x be the smallest positive integer such that x squared "
                                   "leaves remainder one when divided by seven and eleven.", "answer": "1"},
        {"id": "toy-1", "problem": "Compute 17 times 23.", "answer": "391"},
    ])
    monkeypatch.setenv("R1_BENCHMARK_DIR", str(d))
    return d
