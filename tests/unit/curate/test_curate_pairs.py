"""The pairs step: (chosen, rejected) from graded samples, selection rules, margins, drop counts."""

from __future__ import annotations

import json

import pytest

from r1cli.curate import run_curate
from r1cli.curate.mix import InputSpec
from r1cli.curate.pairs import pairs_rows
from r1cli.curate.pipeline import StepSpec
from r1cli.errors import R1Error


def row(rid, answer, *samples):
    return {"id": rid, "problem": f"p {rid}", "answer": answer,
            "samples": [{"text": t, "num_tokens": n} for t, n in samples]}


ROWS = [
    row("a", "4", ("\\boxed{4}", 5), ("\\boxed{5}", 9), ("so \\boxed{4}", 7), ("\\boxed{6}", 2)),
    row("b", "6", ("\\boxed{6}", 3), ("\\boxed{6}", 3)),  # no incorrect sample
    row("c", "2", ("\\boxed{3}", 3)),  # no correct sample
    row("d", None, ("\\boxed{3}", 3)),  # no gold
]


def test_shortest_correct_against_longest_incorrect():
    kept, removed = pairs_rows(ROWS, select="shortest-longest")
    assert [(r["id"], r["chosen"], r["rejected"], r["chosen_tokens"], r["rejected_tokens"]) for r in kept] == [
        ("a", "\\boxed{4}", "\\boxed{5}", 5, 9)]
    assert "samples" not in kept[0] and kept[0]["answer"] == "4"
    assert {r["id"]: r["reason"] for r in removed} == {
        "b": "no incorrect sample", "c": "no correct sample", "d": "no gold answer"}


def test_random_selection_is_seeded_per_row():
    picks = {pairs_rows(ROWS, select="random", seed=s)[0][0]["chosen_index"] for s in range(20)}
    assert picks == {0, 2}  # only correct samples are ever chosen
    rejected = {pairs_rows(ROWS, select="random", seed=s)[0][0]["rejected_index"] for s in range(20)}
    assert rejected == {1, 3}
    one = pairs_rows(ROWS, seed=3)[0]
    assert pairs_rows(ROWS[:1], seed=3)[0] == one  # a row's pair does not depend on the other rows


def test_min_margin_drops_pairs_with_a_short_rejected():
    kept, removed = pairs_rows(ROWS, select="shortest-longest", min_margin=4)  # 9 - 5 = 4: kept
    assert [r["id"] for r in kept] == ["a"]
    kept, removed = pairs_rows(ROWS, select="shortest-longest", min_margin=5)
    assert kept == [] and removed[0]["reason"] == "length margin 4 < min_margin 5"


def test_identical_texts_never_pair():
    same = [row("s", "4", ("\\boxed{4}", 3), ("\\boxed{4}", 3))]
    scores = iter([1.0, 0.0])  # a reward that disagrees with itself on one text

    def flaky(completions, **columns):
        return [next(scores) for _ in completions]

    kept, removed = pairs_rows(same, reward=flaky)
    assert kept == [] and removed[0]["reason"] == "no incorrect sample"


def test_bad_input():
    with pytest.raises(R1Error, match="no 'samples' list"):
        pairs_rows([{"id": "x", "problem": "p", "answer": "1"}])
    with pytest.raises(R1Error, match=r"samples\[0\].text must be a string"):
        pairs_rows([{"id": "x", "problem": "p", "answer": "1", "samples": [{"text": 3}]}])
    with pytest.raises(R1Error, match="did you mean 'random'"):
        pairs_rows(ROWS, select="randm")


def test_curate_writes_pairs_jsonl(tmp_path):
    data = tmp_path / "samples.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS[:3]))
    run_curate([InputSpec(str(data))], [StepSpec("pairs", {"select": "shortest-longest"})], tmp_path / "out",
               plots=False)
    pairs = [json.loads(line) for line in (tmp_path / "out" / "pairs.jsonl").read_text().splitlines()]
    assert [(p["id"], p["chosen"], p["rejected"]) for p in pairs] == [("a", "\\boxed{4}", "\\boxed{5}")]
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["removed_by"] == {"pairs": 2}
