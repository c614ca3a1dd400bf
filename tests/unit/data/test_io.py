"""Data I/O: every format, every error path, atomic writes and crash recovery."""

from __future__ import annotations

import json

import pytest

from r1cli.data.io import (
    JsonlAppender,
    atomic_write_json,
    load_problems,
    read_jsonl,
    recover_jsonl,
    stable_id,
)
from r1cli.errors import R1Error

ROWS = [{"id": "a", "question": "1+1?", "solution": 2, "level": 1},
        {"id": "b", "question": "2+2?", "solution": 4, "level": 2}]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_malformed_jsonl_line_named_file_and_line(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"id": 1}\n\n{"id": 2\n')
    with pytest.raises(R1Error, match=r"d\.jsonl:3: not valid JSON"):
        list(read_jsonl(p))


def test_non_object_line(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text("[1, 2]\n")
    with pytest.raises(R1Error, match=r"d\.jsonl:1: expected a JSON object"):
        list(read_jsonl(p))


def test_field_mapping_extra_columns_ride_along(tmp_path):
    p = write_jsonl(tmp_path / "d.jsonl", ROWS)
    recs = load_problems(p, problem_field="question", answer_field="solution")
    assert recs[0] == {"id": "a", "problem": "1+1?", "answer": "2", "level": 1}


def test_missing_field_names_field_and_existing_fields(tmp_path):
    p = write_jsonl(tmp_path / "d.jsonl", ROWS)
    with pytest.raises(R1Error) as e:
        load_problems(p, problem_field="questoin")
    msg = str(e.value)
    assert "'questoin'" in msg and "did you mean 'question'" in msg and "id, question, solution, level" in msg


def test_empty_dataset_is_an_error(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text("\n")
    with pytest.raises(R1Error, match="empty"):
        load_problems(p)


def test_duplicate_ids_are_an_error(tmp_path):
    p = write_jsonl(tmp_path / "d.jsonl", [{"id": "x", "problem": "p"}, {"id": "x", "problem": "q"}])
    with pytest.raises(R1Error, match="duplicate id 'x'"):
        load_problems(p)


def test_missing_id_gets_stable_hash(tmp_path):
    p = write_jsonl(tmp_path / "d.jsonl", [{"problem": "p"}])
    assert load_problems(p)[0]["id"] == stable_id("p") == load_problems(p)[0]["id"]


@pytest.mark.parametrize("fmt", ["json", "parquet", "csv"])
def test_other_formats(tmp_path, fmt):
    rows = [{"id": "a", "problem": "1+1?", "answer": "2"}, {"id": "b", "problem": "2+2?", "answer": "4"}]
    p = tmp_path / f"d.{fmt}"
    if fmt == "json":
        p.write_text(json.dumps({"data": rows}))
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), p)
    else:
        p.write_text("id,problem,answer\na,1+1?,2\nb,2+2?,4\n")
    assert load_problems(p) == rows


def test_limit(tmp_path):
    p = write_jsonl(tmp_path / "d.jsonl", ROWS)
    assert len(load_problems(p, problem_field="question", limit=1)) == 1


def test_missing_file_and_bad_suffix(tmp_path):
    with pytest.raises(R1Error, match="file not found"):
        load_problems(tmp_path / "nope.jsonl")
    bad = tmp_path / "d.txt"
    bad.write_text("x")
    with pytest.raises(R1Error, match="unsupported file type"):
        load_problems(bad)


def test_hub_id_offline_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(R1Error, match="could not load hub dataset 'someone/nothing'.*offline"):
        load_problems("someone/nothing")


def test_atomic_write_leaves_no_temp(tmp_path):
    atomic_write_json(tmp_path / "o.json", {"a": 1})
    assert json.loads((tmp_path / "o.json").read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["o.json"]


def test_recover_drops_partial_last_line(tmp_path):
    p = tmp_path / "s.jsonl"
    with JsonlAppender(p) as w:
        w.write({"id": 1})
        w.write({"id": 2})
    with p.open("a") as f:
        f.write('{"id": 3, "samp')  # killed mid-write
    assert recover_jsonl(p) == [{"id": 1}, {"id": 2}]
    assert p.read_text() == '{"id": 1}\n{"id": 2}\n'  # truncated in place
    with JsonlAppender(p) as w:
        w.write({"id": 3})
    assert [r["id"] for r in recover_jsonl(p)] == [1, 2, 3]


def test_recover_missing_file_is_empty(tmp_path):
    assert recover_jsonl(tmp_path / "none.jsonl") == []


def test_recover_refuses_corruption_in_the_middle(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text('{"id": 1}\ngarbage\n{"id": 3}\n')
    with pytest.raises(R1Error, match=r"s\.jsonl:2: corrupt line"):
        recover_jsonl(p)
