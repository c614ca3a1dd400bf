"""End to end: run_curate over two mixed inputs with planted duplicates and MATH-500 problems.

The MATH-500 rows are the repo's fixture subset (``tests/fixtures/benchmarks/math500.jsonl``, 43
rows; the ``benchmarks`` fixture). The run must remove exactly the planted rows, each by the right
step and with the right attribution, and keep every clean row.
"""

from __future__ import annotations

import json
import random

import pytest

from r1cli.curate import InputSpec, StepSpec, run_curate
from r1cli.curate.text import words

pytestmark = pytest.mark.slow

VOCAB = ("apple orange river mountain garden window pencil ladder basket candle violin castle "
         "harbor meadow lantern puzzle rocket saddle tunnel valley wagon anchor blanket cactus "
         "dolphin engine falcon glacier hammer island jacket kettle lemon magnet needle oyster "
         "parrot quilt ribbon statue tiger umbrella vessel walnut yacht zebra bridge cottage").split()


def clean_problems(n: int, seed: int, prefix: str) -> list[dict]:
    """n problems of 55-70 random words (pairwise 5-gram Jaccard ~0), each ending in a question."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        body = " ".join(rng.choice(VOCAB) for _ in range(rng.randint(55, 70)))
        out.append({"id": f"{prefix}{i}", "problem": f"{body} ? How many {rng.choice(VOCAB)}s are there?",
                    "answer": str(rng.randint(1, 99))})
    return out


def test_curate_removes_exactly_the_planted_rows(tmp_path, benchmarks, monkeypatch):
    monkeypatch.setenv("R1_BENCHMARK_DIR", str(benchmarks))
    math500 = [json.loads(line) for line in (benchmarks / "math500.jsonl").read_text().splitlines()]
    m_exact = math500[17]
    long_ones = [r for r in math500 if len(words(r["problem"])) >= 30 and r is not m_exact]  # 20 of them
    m_embedded, m_variant = long_ones[5], long_ones[15]

    a = clean_problems(30, seed=1, prefix="a")
    b = clean_problems(30, seed=2, prefix="b")
    expected: dict[str, tuple[str, str]] = {}  # id -> (removed_by, reason prefix)

    # input a: an exact duplicate with other whitespace/case, a one-word near duplicate, an empty row
    a.append({"id": "a-dup", "problem": "  " + a[3]["problem"].upper().replace(" ", "   \n", 4), "answer": "1"})
    expected["a-dup"] = ("dedup", "exact duplicate of a3")
    w = a[5]["problem"].split(" ")
    w[30] = "telescope"
    a.append({"id": "a-near", "problem": " ".join(w), "answer": "1"})
    expected["a-near"] = ("dedup", "near-duplicate of a5 (jaccard≈")
    a.append({"id": "a-empty", "problem": " \t ", "answer": "1"})
    expected["a-empty"] = ("normalize", "empty problem")

    # input b (other column names, Parquet): a cross-input duplicate and three MATH-500 plants
    b.append({"id": "b-cross", "problem": a[8]["problem"], "answer": "2"})
    expected["b-cross"] = ("dedup", "exact duplicate of a8")
    b.append({"id": "b-m500", "problem": m_exact["problem"], "answer": m_exact["answer"]})
    expected["b-m500"] = ("decontam", f"contaminated: math500/{m_exact['id']} (exact normalised match)")
    b.append({"id": "b-embed", "problem": "Solve this carefully. " + m_embedded["problem"] + " Show all steps.",
              "answer": "0"})
    expected["b-embed"] = ("decontam", f"contaminated: math500/{m_embedded['id']} (8-gram overlap)")
    vw = m_variant["problem"].split(" ")
    vw[-3] = "banana"  # one word changed near the end: the earlier 8-grams still match
    b.append({"id": "b-variant", "problem": " ".join(vw), "answer": "0"})
    expected["b-variant"] = ("decontam", f"contaminated: math500/{m_variant['id']} (8-gram overlap)")
    random.Random(3).shuffle(b)

    path_a = tmp_path / "a.jsonl"
    path_a.write_text("".join(json.dumps(r) + "\n" for r in a))
    import pyarrow as pa
    import pyarrow.parquet as pq

    path_b = tmp_path / "b.parquet"
    pq.write_table(pa.Table.from_pylist([{"uid": r["id"], "question": r["problem"], "final": r["answer"]}
                                         for r in b]), path_b)
    inputs = [InputSpec(str(path_a)),
              InputSpec(str(path_b), name="pool", problem_field="question", answer_field="final", id_field="uid")]
    steps = [StepSpec("normalize"), StepSpec("dedup"),
             StepSpec("decontam", {"benchmarks": ["math500", "aime24", "aime25", "amc23"]})]
    stats = run_curate(inputs, steps, tmp_path / "out", seed=0)

    kept = [json.loads(x) for x in (tmp_path / "out" / "kept.jsonl").read_text().splitlines()]
    removed = [json.loads(x) for x in (tmp_path / "out" / "removed.jsonl").read_text().splitlines()]
    assert {r["id"] for r in removed} == set(expected)
    for r in removed:
        step, reason = expected[r["id"]]
        assert r["removed_by"] == step and r["reason"].startswith(reason), r
    assert sorted(r["id"] for r in kept) == sorted([f"a{i}" for i in range(30)] + [f"b{i}" for i in range(30)])
    assert {r["source"] for r in kept} == {"a", "pool"}
    # 33 + 34 = 67 rows in; 1 empty, 3 duplicates, 3 contaminated removed -> 60 kept
    assert [(s["name"], s["out"]) for s in stats["steps"]] == [
        ("mix", 67), ("normalize", 66), ("dedup", 63), ("decontam", 60)]
    assert (tmp_path / "out" / "report.md").is_file() and (tmp_path / "out" / "length_pool.png").is_file()
