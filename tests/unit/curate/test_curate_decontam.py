"""decontam: planted benchmark rows are caught and attributed; benchmark names resolve through the
eval registry ($R1_BENCHMARK_DIR, else the hub), paths by their stem."""

import json
import time

import pytest

from r1cli.curate.decontam import decontam_rows, load_benchmark
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
    name, rows = load_benchmark("toy")  # not a registry name: a file of one's own in $R1_BENCHMARK_DIR
    assert name == "toy" and [r["id"] for r in rows] == ["toy-0", "toy-1"]
    other = tmp_path / "mine.jsonl"
    other.write_text(json.dumps({"id": "m0", "problem": "compute 17 times 23."}) + "\n")
    assert load_benchmark(str(other)) == ("mine", [{"id": "m0", "problem": "compute 17 times 23."}])
    with pytest.raises(R1Error, match=r"unknown benchmark 'tyo' \(did you mean 'toy'\?\).*"
                                      r"files in \$R1_BENCHMARK_DIR \(.*\): toy, or give the file's path"):
        load_benchmark("tyo")
    with pytest.raises(R1Error, match=r"decontam: benchmark file .*nope.jsonl not found"):
        load_benchmark(str(tmp_path / "nope.jsonl"))
    # a file path names the benchmark by its stem
    _, removed = decontam_rows([{"id": "z", "problem": "Compute 17 times 23."}], benchmarks=[str(other)])
    assert removed[0]["reason"] == "contaminated: mine/m0 (exact normalised match)"


def test_registry_names_resolve_through_r1_benchmark_dir(benchmarks, monkeypatch):
    monkeypatch.setenv("R1_BENCHMARK_DIR", str(benchmarks))
    name, rows = load_benchmark("MATH-500")  # an alias: the registry's canonical name comes back
    first = json.loads((benchmarks / "math500.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert name == "math500" and len(rows) == 43 and rows[0]["problem"] == first["problem"]
    _, removed = decontam_rows([{"id": "leak", "problem": first["problem"]}], benchmarks=["math500"])
    assert removed[0]["reason"] == "contaminated: math500/math500-0 (exact normalised match)"


def test_registry_name_falls_back_to_the_hub_dataset(monkeypatch, tmp_path):
    # no math500.jsonl in $R1_BENCHMARK_DIR: the registry's hub id and split are asked for (datasets
    # serves them from its cache, or the hub when online); here a stand-in answers for datasets
    monkeypatch.setenv("R1_BENCHMARK_DIR", str(tmp_path))
    asked = []

    def fake_hub(dataset_id, split):
        asked.append((dataset_id, split))
        return [{"problem": "Compute 17 times 23.", "answer": "391", "unique_id": "test/x.json"}], ["hub row 1"]

    monkeypatch.setattr("r1cli.data.io._read_hub", fake_hub)
    name, rows = load_benchmark("math500")
    assert asked == [("HuggingFaceH4/MATH-500", "test")]
    assert name == "math500" and rows[0]["id"] == "test/x.json"  # the hub's id field (unique_id)


@pytest.mark.parametrize("env", ["unset", "empty dir"])
def test_unreachable_benchmark_is_one_line_naming_both_places_and_fails_fast(env, monkeypatch, tmp_path):
    if env == "unset":
        monkeypatch.delenv("R1_BENCHMARK_DIR", raising=False)
        looked = "R1_BENCHMARK_DIR is not set"
    else:
        monkeypatch.setenv("R1_BENCHMARK_DIR", str(tmp_path))
        looked = f"no math500.jsonl in $R1_BENCHMARK_DIR ({tmp_path})"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    t0 = time.monotonic()
    with pytest.raises(R1Error) as e:
        decontam_rows([{"id": "a", "problem": "x"}], benchmarks=["math500"])
    assert time.monotonic() - t0 < 15  # a real hub attempt, but offline mode fails at once (not a 20-50 s hang)
    assert str(e.value) == (
        f"benchmark 'math500': {looked}, and hub dataset 'HuggingFaceH4/MATH-500' could not be loaded: offline "
        "mode is on (HF_HUB_OFFLINE/HF_DATASETS_OFFLINE=1) and it is not in the datasets cache; set "
        "R1_BENCHMARK_DIR to a folder with math500.jsonl, or give the file's path in --benchmarks")
