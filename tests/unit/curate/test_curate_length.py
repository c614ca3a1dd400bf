"""length: token counts under the tiny tokenizer (digits are one token each)."""

import pytest

from r1cli.curate.length import length_rows
from r1cli.errors import R1Error


@pytest.fixture(scope="module")
def tiny_tokenizer():
    from r1cli.models.tiny import build_tiny_tokenizer

    return build_tiny_tokenizer(records_per_task=20)


def test_length_bounds(tiny_tokenizer):
    rows = [
        {"id": "a", "problem": "p", "solution": "1234567"},  # 7 digits -> 7 tokens
        {"id": "b", "problem": "p", "solution": "123"},  # 3 tokens
        {"id": "c", "problem": "98765 4321"},  # no solution: the problem, 9 digits + 1 space = 10 tokens
    ]
    kept, removed = length_rows(rows, tokenizer=tiny_tokenizer, min_tokens=4, max_tokens=8)
    assert [(r["id"], r["num_tokens"]) for r in kept] == [("a", 7)]
    assert {r["id"]: r["reason"] for r in removed} == {
        "b": "too short: 3 tokens < min_tokens 4",
        "c": "too long: 10 tokens > max_tokens 8",
    }
    kept, _ = length_rows(rows, tokenizer=tiny_tokenizer, field="problem")
    assert [r["num_tokens"] for r in kept] == [1, 1, 10]


def test_length_errors(tiny_tokenizer):
    with pytest.raises(R1Error, match="needs a tokenizer"):
        length_rows([{"id": "a", "problem": "p"}])
    with pytest.raises(R1Error, match="no field 'solution'"):
        length_rows([{"id": "a", "problem": "p"}], tokenizer=tiny_tokenizer, field="solution")


def test_run_curate_with_a_tokenizer_reports_tokens(tiny_tokenizer, tmp_path, jsonl_writer):
    from r1cli.curate import InputSpec, StepSpec, run_curate

    data = jsonl_writer(tmp_path / "d.jsonl", [{"id": "a", "problem": "p", "solution": "1234567"},
                                               {"id": "b", "problem": "p", "solution": "12"}])
    stats = run_curate([InputSpec(str(data))], [StepSpec("length", {"min_tokens": 3})], tmp_path / "out",
                       tokenizer=tiny_tokenizer, plots=False)
    # "1234567" -> 7 tokens kept; "12" -> 2 tokens < 3 removed
    assert stats["kept"] == 1 and stats["removed_by"] == {"length": 1}
    assert stats["length_unit"] == "tokens" and stats["sources"][0]["kept_length"]["max"] == 7.0
    assert "under the given tokenizer" in (tmp_path / "out" / "report.md").read_text()
