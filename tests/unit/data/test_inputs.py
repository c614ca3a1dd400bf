"""Input hardening: UTF-8 errors with line and byte offset in every format, record locations through
load_problems, and the type rules of each field (r1cli.data.io / fields / chat docstrings)."""

from __future__ import annotations

import json

import pytest

from r1cli.data.chat import record_messages
from r1cli.data.io import load_problems, read_json_file, read_located, recover_jsonl
from r1cli.errors import R1Error

HINT = "; re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"


def message(fn, *args, **kwargs) -> str:
    with pytest.raises(R1Error) as e:
        fn(*args, **kwargs)
    assert "\n" not in str(e.value)
    return str(e.value)


# ------------------------------------------------------------------------------------------- encoding


def test_jsonl_bad_byte_names_line_and_offset_in_the_file(tmp_path):
    p = tmp_path / "d.jsonl"
    # line 1 is 14 bytes + newline, so line 2 starts at byte 15; '{"problem": "' is 13 bytes, so the
    # bad byte is byte 13 of line 2 and byte 15 + 13 = 28 of the file
    p.write_bytes(b'{"problem": 1}\n{"problem": "\xff"}\n')
    assert message(read_located, p) == f"{p}:2: not UTF-8: byte 0xff at byte offset 28 of the file (byte 13 of line 2){HINT}"


def test_utf8_bom_is_dropped_and_utf16_is_named(tmp_path):
    p = tmp_path / "bom.jsonl"
    p.write_bytes(b'\xef\xbb\xbf{"problem": "x"}\n')
    assert read_located(p) == ([{"problem": "x"}], [f"{p}:1"])
    csv = tmp_path / "bom.csv"
    csv.write_bytes(b"\xef\xbb\xbfid,problem\na,x\n")  # Excel's "CSV UTF-8": the BOM must not stick to 'id'
    assert load_problems(csv) == [{"id": "a", "problem": "x"}]
    u16 = tmp_path / "u16.jsonl"
    u16.write_bytes('{"problem": "x"}\n'.encode("utf-16"))
    assert message(read_located, u16) == (f"{u16}: UTF-16 text (byte-order mark at byte offset 0 of the file); r1 "
                                           "reads UTF-8: re-encode it (iconv -f utf-16 -t utf-8)")


def test_json_and_csv_bad_byte_name_line_and_offset(tmp_path):
    j = tmp_path / "d.json"
    # "[\n" is 2 bytes, ' {"problem": "a"},\n' 19 (bytes 2-20); line 3 starts at byte 21 and
    # ' {"problem": "' is 14 bytes: the bad byte is byte 14 of line 3, byte 21 + 14 = 35 of the file
    j.write_bytes(b'[\n {"problem": "a"},\n {"problem": "\xe9"}\n]\n')
    assert message(read_located, j) == f"{j}:3: not UTF-8: byte 0xe9 at byte offset 35 of the file (byte 14 of line 3){HINT}"
    c = tmp_path / "d.csv"
    # "problem,answer\n" is 15 bytes, "ok,1\n" 5: line 3 starts at byte 20, "\xe9" is its byte 3 -> 23
    c.write_bytes(b"problem,answer\nok,1\ncaf\xe9,2\n")
    assert message(read_located, c) == f"{c}:3: not UTF-8: byte 0xe9 at byte offset 23 of the file (byte 3 of line 3){HINT}"


def test_json_file_and_yaml_config_bad_byte(tmp_path):
    from r1cli.config.core import load_yaml_file

    j = tmp_path / "ds.json"
    j.write_bytes(b'{"zero_optimization": {"stage": 2},\n "note": "\x80"}\n')  # line 2 starts at byte 36
    assert message(read_json_file, j) == f"{j}:2: not UTF-8: byte 0x80 at byte offset 46 of the file (byte 10 of line 2){HINT}"
    y = tmp_path / "preset.yaml"
    y.write_bytes(b"# header\ntrain:\n  lr: 1e-5  # \xb5s\n")  # 9 + 7 bytes before line 3, then 14
    assert message(load_yaml_file, y, "preset") == (
        f"{y}:3: not UTF-8: byte 0xb5 at byte offset 30 of the file (byte 14 of line 3){HINT}")
    y.write_bytes(b"a: 1\nb: \"x\x07\"\n")  # valid UTF-8 that YAML refuses: still one line, with its line
    assert message(load_yaml_file, y) == f"{y}:2: not valid YAML (special characters are not allowed)"


def test_recover_jsonl_bad_byte_mid_file_and_torn_last_line(tmp_path):
    p = tmp_path / "samples.jsonl"
    p.write_bytes(b'{"id": 1}\n{"id": "\xe9"}\n{"id": 3}\n')  # line 2 starts at byte 10, + 8
    assert message(recover_jsonl, p) == (
        f"{p}:2: corrupt line in the middle of an output file (byte 0xe9 at byte offset 18 of the file is not "
        "UTF-8); move the file away to start over")
    # a kill mid-write can cut a multi-byte character: the torn last line is dropped as before
    p.write_bytes(b'{"id": 1}\n{"id": "' + "é".encode()[:1])
    assert recover_jsonl(p) == [{"id": 1}] and p.read_bytes() == b'{"id": 1}\n'


def test_merge_shards_bad_byte(tmp_path):
    from r1cli.generation.sampler import merge_shards

    s0 = tmp_path / "s0.jsonl"
    s0.write_bytes(b'{"id": "a", "samples": []}\n{"id": "\xfe"}\n')  # line 2 starts at byte 27, + 8
    assert message(merge_shards, [s0], tmp_path / "m.jsonl") == (
        f"{s0}:2: corrupt line (byte 0xfe at byte offset 35 of the file is not UTF-8); rerun that shard to repair it")


# ------------------------------------------------------------------------------------------ locations


def test_locations_of_every_format(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    j = tmp_path / "d.json"
    j.write_text('{"meta": {"rows": [1]},\n "data": [\n  {"problem": "a"},\n\n  {"problem": "b"}]}\n')
    assert read_located(j)[1] == [f"{j}:3", f"{j}:5"]  # the line where each object starts
    c = tmp_path / "d.csv"
    c.write_text('problem,answer\n"two\nlines",1\n\nb,2\n')
    assert read_located(c) == ([{"problem": "two\nlines", "answer": "1"}, {"problem": "b", "answer": "2"}],
                               [f"{c}:2", f"{c}:5"])  # a quoted newline: the row starts on line 2
    q = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist([{"problem": "a"}, {"problem": "b"}]), q)
    assert read_located(q)[1] == [f"{q} row 1", f"{q} row 2"]


@pytest.mark.parametrize("fmt", ["json", "csv", "parquet"])
def test_type_errors_name_the_location_in_every_format(tmp_path, fmt):
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = tmp_path / f"d.{fmt}"
    if fmt == "json":
        p.write_text('[{"problem": "a", "answer": "1"},\n {"problem": "b", "answer": [1]}]')
        where = f"{p}:2"
    elif fmt == "csv":
        p.write_text("problem,answer,extra\na,1,x\nb,2,x,y\n")  # a row with one value too many
        assert message(load_problems, p) == (f"{p}:3: 4 values for 3 columns (problem, answer, extra); quote "
                                             "values that contain commas")
        return
    else:
        pq.write_table(pa.Table.from_pylist([{"problem": "a", "answer": [1]}, {"problem": "b", "answer": [1, 2]}]), p)
        where = f"{p} row 1"
    assert message(load_problems, p).startswith(f"{where}: field 'answer': expected a string or a number, found a list")


def test_line_numbers_survive_blank_lines_limit_and_duplicates(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"id": "a", "problem": "x"}\n\n\n{"id": "b", "problme": "y"}\n')
    assert message(load_problems, p) == (f"{p}:4: no field 'problem' (did you mean 'problme'?); fields are: id, "
                                         "problme (use --problem-field)")
    assert [r["id"] for r in load_problems(p, limit=1)] == ["a"]  # rows past the limit are not checked
    p.write_text('{"id": "a", "problem": "x"}\n\n{"id": "a", "problem": "y"}\n')
    assert message(load_problems, p) == f"{p}:3: duplicate id 'a' (first at {p}:1); ids must be unique"


# ------------------------------------------------------------------------------------------ the types


def one(tmp_path, row: dict, **kwargs) -> list[dict]:
    p = tmp_path / "one.jsonl"
    p.write_text(json.dumps({"id": "a", "problem": "1+1?", "answer": "2"}) + "\n" + json.dumps(row) + "\n")
    return load_problems(p, **kwargs)


@pytest.mark.parametrize(("answer", "read_as"), [(42, "42"), (42.0, "42"), (0.5, "0.5"), (-3, "-3"), ("x", "x")])
def test_number_answers_are_read_as_text(tmp_path, answer, read_as):
    assert one(tmp_path, {"id": 7, "problem": "q", "answer": answer})[1] == {"id": "7", "problem": "q", "answer": read_as}


@pytest.mark.parametrize(("answer", "found"), [(True, 'a boolean true (write the gold answer as text)'),
                                               (["2"], 'a list ["2"] (keep one gold answer per problem, as text)'),
                                               ({"v": 2}, 'an object {"v": 2}')])
def test_boolean_list_object_answers_are_errors(tmp_path, answer, found):
    p = tmp_path / "one.jsonl"
    assert message(one, tmp_path, {"id": "b", "problem": "q", "answer": answer}) == (
        f"{p}:2: field 'answer': expected a string or a number, found {found}")


@pytest.mark.parametrize(("problem", "found"), [
    (123, "an integer 123"), (None, "a null"),
    ([{"role": "user", "content": "q"}], 'a list [{"role": "user", "content": "q"}]'),
    (["x" * 50], 'a list ["' + "x" * 35 + "..."),  # shown cut to 37 characters + "..."
])
def test_problem_must_be_a_string(tmp_path, problem, found):
    p = tmp_path / "one.jsonl"
    assert message(one, tmp_path, {"id": "b", "problem": problem}) == (
        f"{p}:2: field 'problem': expected a string, found {found}")


def test_null_and_absent_answers(tmp_path):
    p = tmp_path / "one.jsonl"
    # unlabeled prompts (r1 sample): null stays None, absent stays absent
    assert one(tmp_path, {"id": "b", "problem": "q", "answer": None})[1] == {"id": "b", "problem": "q", "answer": None}
    assert one(tmp_path, {"id": "b", "problem": "q"})[1] == {"id": "b", "problem": "q"}
    # a gold answer is required (r1 eval): both are errors
    assert message(one, tmp_path, {"id": "b", "problem": "q", "answer": None}, require_answer=True) == (
        f"{p}:2: field 'answer' is null; every problem here needs its gold answer")
    assert message(one, tmp_path, {"id": "b", "problem": "q"}, require_answer=True) == (
        f"{p}:2: no field 'answer'; fields are: id, problem (use --answer-field)")
    # a misspelt answer in a dataset whose other rows have the field: did you mean
    assert message(one, tmp_path, {"id": "b", "problem": "q", "answr": "4"}) == (
        f"{p}:2: no field 'answer' (did you mean 'answr'?); fields are: id, problem, answr (use --answer-field)")


@pytest.mark.parametrize(("rid", "read_as"), [(7, "7"), (7.0, "7"), ("", None), (None, None)])
def test_ids(tmp_path, rid, read_as):
    from r1cli.data.io import stable_id

    assert one(tmp_path, {"id": rid, "problem": "q"})[1]["id"] == (read_as or stable_id("q"))


@pytest.mark.parametrize(("rid", "found"), [(True, "a boolean true"), (1.5, "a number 1.5"), ([1], "a list [1]")])
def test_bad_ids(tmp_path, rid, found):
    p = tmp_path / "one.jsonl"
    assert message(one, tmp_path, {"id": rid, "problem": "q"}) == (
        f"{p}:2: field 'id': expected a string or an integer, found {found}")


def test_chat_field_types():
    user = {"role": "user", "content": "q"}
    w = "sft.jsonl:4"
    assert message(record_messages, {"messages": "hi"}, where=w) == (
        f"{w}: field 'messages': expected a list of messages, found a string \"hi\"")
    assert message(record_messages, {"messages": [user, "a"]}, where=w) == (
        f"{w}: field 'messages[1]': expected a message object {{\"role\", \"content\"}}, found a string \"a\"")
    assert message(record_messages, {"messages": [user, {"role": "assistant", "contnet": "a"}]}, where=w) == (
        f"{w}: no field 'messages[1].content' (did you mean 'contnet'?); fields are: role, contnet")
    assert message(record_messages, {"messages": [{"role": 1, "content": "q"}]}, where=w) == (
        f"{w}: field 'messages[0].role': expected a string, found an integer 1")
    assert message(record_messages, {"prompt": [user], "completion": {"text": "a"}}, where=w) == (
        f"{w}: field 'completion': expected a string or a list of messages, found an object {{\"text\": \"a\"}}")
    assert message(record_messages, {"prompt": "q", "completion": [{"role": "assistant", "content": 4}]},
                   where=w) == f"{w}: field 'completion[0].content': expected a string, found an integer 4"
    # both forms still work
    assert record_messages({"prompt": [user], "completion": "a"}) == [user, {"role": "assistant", "content": "a"}]
