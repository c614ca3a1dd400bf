"""mix, normalize and dedup steps on hand-built rows."""

import sys

import pytest

from r1cli.curate.dedup import dedup_rows
from r1cli.curate.mix import InputSpec, mix
from r1cli.curate.normalize import normalize_rows
from r1cli.errors import MissingDependencyError, R1Error


def rows_of(*problems: str) -> list[dict]:
    return [{"id": f"r{i}", "problem": p, "answer": "1"} for i, p in enumerate(problems)]


def test_mix_fractions_sources_and_id_clashes():
    a = [{"id": str(i), "problem": f"a problem {i}"} for i in range(10)]
    b = [{"id": str(i), "problem": f"b problem {i}"} for i in range(4)]
    kept, removed = mix([(InputSpec("a.jsonl", weight=0.3), a), (InputSpec("b.jsonl", name="bee"), b)], seed=1)
    # a: round(0.3 * 10) = 3 kept, 7 removed; b: weight 1 -> all 4 kept
    assert [r["source"] for r in kept].count("a") == 3
    assert [r["source"] for r in kept].count("bee") == 4
    assert len(removed) == 7 and all(r["removed_by"] == "mix" for r in removed)
    assert removed[0]["reason"] == "not sampled (weight 0.3 of a)"
    # b's ids 0..3 clash with a's: they become "bee:0".."bee:3"
    assert [r["id"] for r in kept if r["source"] == "bee"] == ["bee:0", "bee:1", "bee:2", "bee:3"]
    # kept rows keep input order, and the same seed picks the same rows
    a_ids = [int(r["id"]) for r in kept if r["source"] == "a"]
    assert a_ids == sorted(a_ids)
    again, _ = mix([(InputSpec("a.jsonl", weight=0.3), a), (InputSpec("b.jsonl", name="bee"), b)], seed=1)
    assert again == kept


def test_normalize_rewrites_and_drops():
    rows = rows_of("  Ｆind   x\t if x+1=2 ", "   \n ", "Solve \ufffd\ufffd\ufffd\ufffd\ufffd\ufffdab", "fine")
    rows[3]["answer"] = ""
    kept, removed = normalize_rows(rows, require_answer=True)
    assert [r["id"] for r in kept] == ["r0"]
    assert kept[0]["problem"] == "Find x if x+1=2"  # NFKC full-width F, whitespace collapsed
    reasons = {r["id"]: r["reason"] for r in removed}
    assert reasons["r1"] == "empty problem"
    # "Solve" + 6 replacement chars + "ab" = 13 visible characters, 6 bad -> 46% > 10%
    assert reasons["r2"] == "garbled problem (46% bad characters > 10%)"
    assert reasons["r3"] == "no answer"
    assert all(r["removed_by"] == "normalize" for r in removed)


def test_exact_duplicate_with_different_whitespace(long_problem):
    rows = rows_of("What is 2 + 2?", "what  is 2 +\n2?  ", "What is 2 + 3?")
    kept, removed = dedup_rows(rows, methods=["exact"])
    assert [r["id"] for r in kept] == ["r0", "r2"]
    assert removed[0]["id"] == "r1"
    assert removed[0]["reason"] == "exact duplicate of r0 (normalised text)"


def test_exact_strip_digits_catches_changed_numbers():
    rows = rows_of("What is 2 + 2?", "What is 7 + 9?")
    kept, _ = dedup_rows(rows, methods=["exact"])
    assert len(kept) == 2
    kept, removed = dedup_rows(rows, methods=["exact"], strip_digits=True)
    assert [r["id"] for r in kept] == ["r0"]
    assert removed[0]["reason"] == "exact duplicate of r0 (normalised text, digits ignored)"


def test_near_duplicate_with_one_changed_word(long_problem):
    variant = long_problem.replace("shorter", "longer")
    rows = rows_of(long_problem, "An unrelated question about prime numbers and their sums.", variant)
    kept, removed = dedup_rows(rows)
    assert [r["id"] for r in kept] == ["r0", "r1"]
    # Jaccard 61/71 = 0.8592 (see conftest) -> printed with two decimals
    assert removed[0]["id"] == "r2"
    assert removed[0]["reason"] == "near-duplicate of r0 (jaccard≈0.86)"
    assert removed[0]["removed_by"] == "dedup"
    # above the pair's Jaccard nothing is removed
    kept, _ = dedup_rows(rows, threshold=0.9)
    assert len(kept) == 3


class FakeEmbedder:
    """Maps each text to a fixed 2-d unit vector by its first word."""

    VECS = {"cats": (1.0, 0.0), "kittens": (0.96, 0.28), "dogs": (0.0, 1.0)}

    def encode(self, texts, batch_size=64, normalize_embeddings=True):
        return [self.VECS[t.split()[0]] for t in texts]


def test_embedding_dedup_with_injected_model():
    rows = rows_of("cats are small", "kittens are small", "dogs are loud")
    kept, removed = dedup_rows(rows, methods=["embedding"], embedding_model=FakeEmbedder())
    # cos(cats, kittens) = 1*0.96 + 0*0.28 = 0.96 >= 0.95; cos(cats, dogs) = 0
    assert [r["id"] for r in kept] == ["r0", "r2"]
    assert removed[0]["reason"] == "semantic duplicate of r0 (cosine≈0.96)"


def test_embedding_without_sentence_transformers_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # importing it now fails, installed or not
    with pytest.raises(MissingDependencyError, match="sentence-transformers"):
        dedup_rows(rows_of("a b c"), methods=["embedding"])


def test_dedup_rejects_bad_params():
    with pytest.raises(R1Error, match="did you mean 'minhash'"):
        dedup_rows(rows_of("x"), methods=["minhsah"])
    with pytest.raises(R1Error, match="exceeds num_perm"):
        dedup_rows(rows_of("x"), bands=20, rows_per_band=8)


def test_problems_that_differ_only_in_an_operator_are_not_near_duplicates():
    # Words alone ("what is 6 4") are identical; with symbols as tokens the single shingles differ.
    rows = rows_of("What is 6 - 4?", "What is 6 + 4?", "What is 6 - 4 ?")
    kept, removed = dedup_rows(rows)
    assert [r["id"] for r in kept] == ["r0", "r1"]
    assert [(r["id"], r["reason"]) for r in removed] == [("r2", "near-duplicate of r0 (jaccard≈1.00)")]
