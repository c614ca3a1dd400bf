"""decontam: planted benchmark rows are caught and attributed; benchmark names resolve."""

import json

import pytest

from r1cli.curate.decontam import decontam_rows, resolve_benchmark_file
from r1cli.errors import R1Error

CLEAN = [
    {"id": "c0", "problem": "A train travels 60 miles in 1.5 hours. What is its average speed in miles per hour?"},
    {"id": "c1", "problem": "How many positive divisors does 360 have, counting 1 and 360 itself?"},
    {"id": "c2", "problem": "Find the remainder when 2 to the power 100 is divided by 7."},
]


def test_planted_contaminated_row_is_caught_and_attributed(bench_dir):
    # toy-0's problem wrapped in other words: it shares many 8-grams with the benchmark row
    planted = {"id": "p0", "problem": "Warm-up. Let x be the smallest positive integer such that x squared "
                                      "leaves remainder one when divided by seven. Show work."}
    rows = CLEAN[:2] + [planted] + CLEAN[2:]
    kept, removed = decontam_rows(rows, benchmarks=["toy"])
    assert [r["id"] for r in kept] == ["c0", "c1", "c2"]
    assert len(removed) == 1
    hit = removed[0]
    assert hit["id"] == "p0" and hit["removed_by"] == "decontam"
    assert hit["reason"] == "contaminated: toy/toy-0 (8-gram overlap)"
    # the first shared 8-gram, in normalised words
    assert hit["contamination"] == {"benchmark": "toy", "id": "toy-0", "match": "8-gram",
                                    "ngram": "let x be the smallest positive integer such"}


def test_short_problem_exact_match(bench_dir):
    # "Compute 17 times 23." has 4 words < 8: no 8-grams, caught by the exact normalised match
    rows = [{"id": "s0", "problem": "  compute 17   TIMES 23. "}, {"id": "s1", "problem": "Compute 17 times 24."}]
    kept, removed = decontam_rows(rows, benchmarks=["toy"])
    assert [r["id"] for r in kept] == ["s1"]
    assert removed[0]["reason"] == "contaminated: toy/toy-1 (exact normalised match)"
    assert removed[0]["contamination"] == {"benchmark": "toy", "id": "toy-1", "match": "exact"}
    # with digits stripped, the changed number no longer saves s1
    kept, removed = decontam_rows(rows, benchmarks=["toy"], strip_digits=True)
    assert kept == [] and [r["contamination"]["id"] for r in removed] == ["toy-1", "toy-1"]


def test_smaller_n_catches_more(bench_dir):
    # shares exactly the 5 words "smallest positive integer such that" with toy-0: caught at n=5, not n=8
    row = {"id": "q", "problem": "What is the smallest positive integer such that it is a square?"}
    assert decontam_rows([row], benchmarks=["toy"])[1] == []
    assert len(decontam_rows([row], benchmarks=["toy"], ngram=5)[1]) == 1


def test_resolve_benchmark_by_name_path_and_error(bench_dir, tmp_path):
    assert resolve_benchmark_file("toy") == bench_dir / "toy.jsonl"
    other = tmp_path / "mine.jsonl"
    other.write_text(json.dumps({"id": "m0", "problem": "compute 17 times 23."}) + "\n")
    assert resolve_benchmark_file(str(other)) == other
    with pytest.raises(R1Error, match=r"unknown benchmark 'tyo' \(did you mean 'toy'\?\).*available: toy"):
        resolve_benchmark_file("tyo")
    # a file path names the benchmark by its stem
    _, removed = decontam_rows([{"id": "z", "problem": "Compute 17 times 23."}], benchmarks=[str(other)])
    assert removed[0]["reason"] == "contaminated: mine/m0 (exact normalised match)"
