"""The task registry, the boxed extractor and write_task_data."""

from __future__ import annotations

import json

import pytest

from r1cli.errors import R1Error
from r1cli.tasks import TASKS, extract_boxed, get_task, sft_record, write_task_data


def test_registry_names():
    assert set(TASKS) == {"arith", "countdown"}
    assert get_task("Arith") is TASKS["arith"]


def test_unknown_task_suggests():
    with pytest.raises(R1Error, match="did you mean 'countdown'"):
        get_task("countdwn")


def test_unknown_parameter_suggests():
    with pytest.raises(R1Error, match="did you mean 'max_value'"):
        get_task("arith", max_valu=30)
    assert get_task("arith", max_value=30).max_value == 30


def test_parameter_types_are_checked():
    with pytest.raises(R1Error, match="'lang_switch_prob' expects float .*got 'abc'"):
        get_task("arith", lang_switch_prob="abc")
    with pytest.raises(R1Error, match="'max_operands' expects int .*got 2.5"):
        get_task("arith", max_operands=2.5)
    with pytest.raises(R1Error, match="'max_operands' expects int"):
        get_task("arith", max_operands=True)
    assert get_task("arith", lang_switch_prob=1).lang_switch_prob == 1  # an int where a float is expected


@pytest.mark.parametrize(
    ("text", "inside"),
    [
        ("\\boxed{39}", "39"),
        ("a \\boxed{1} b \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),  # last box, nested braces
        ("\\boxed{7} then \\boxed{8", None),  # cut off inside the last box: 7 was not the answer (#16)
        ("<think>\\boxed{2}</think> so \\boxed{3}", "3"),  # the final part after </think> decides
        ("\\boxed{１２}", "12"),  # full-width digits
        ("no box", None),
    ],
)
def test_extract_boxed(text, inside):
    assert extract_boxed(text) == inside


@pytest.mark.parametrize("name", ["arith", "countdown"])
def test_write_task_data_is_byte_identical(tmp_path, name):
    a = write_task_data(name, 30, 5, tmp_path / "a", held_out=10)
    b = write_task_data(name, 30, 5, tmp_path / "b", held_out=10)
    c = write_task_data(name, 30, 6, tmp_path / "c", held_out=10)
    assert set(a) == {"problems", "sft", "chat", "held_out", "manifest"}
    for key in a:
        assert a[key].read_bytes() == b[key].read_bytes()
    assert a["problems"].read_bytes() != c["problems"].read_bytes()
    problems = [json.loads(line) for line in a["problems"].read_text().splitlines()]
    held = [json.loads(line) for line in a["held_out"].read_text().splitlines()]
    sft = [json.loads(line) for line in a["sft"].read_text().splitlines()]
    assert len(problems) == len(sft) == 30 and len(held) == 10
    assert not {r["problem"] for r in problems} & {r["problem"] for r in held}
    assert [s["id"] for s in sft] == [p["id"] for p in problems]
    task = get_task(name)
    for p, s in zip(problems, sft, strict=True):
        assert [m["role"] for m in s["messages"]] == ["user", "assistant"]
        assert s["messages"][0]["content"] == task.prompt(p)
        assert task.check(s["messages"][1]["content"], p)
    manifest = json.loads(a["manifest"].read_text())
    assert manifest == {"task": name, "params": task.params(), "n": 30, "held_out": 10, "seed": 5}
    assert not list(tmp_path.glob("a/*.tmp"))  # no temp files left behind


def test_write_task_data_without_held_out(tmp_path):
    paths = write_task_data("arith", 3, 0, tmp_path)
    assert "held_out" not in paths and not (tmp_path / "held_out.jsonl").exists()
    assert paths["problems"].read_text().endswith("\n")


def test_write_task_data_errors(tmp_path):
    with pytest.raises(R1Error, match="unknown task"):
        write_task_data("nope", 3, 0, tmp_path)
    with pytest.raises(R1Error, match="--n"):
        write_task_data("arith", 0, 0, tmp_path)


def test_sft_record_depends_only_on_the_record():
    task = get_task("arith")
    record = task.generate(1, 0)[0]
    assert sft_record(task, record) == sft_record(task, dict(record))


def test_chat_records_answer_directly_without_a_thought(tmp_path):
    from r1cli.tasks.writer import chat_records

    records = chat_records(50, 0)
    assert records == chat_records(50, 0) and records != chat_records(50, 1)
    for r in records:
        user, assistant = (m["content"] for m in r["messages"])
        verb, digits = user.split(": ")
        assert assistant == (digits if verb == "Repeat" else " ".join(reversed(digits.split())))
        assert "<think>" not in assistant
    assert {r["messages"][0]["content"].split(":")[0] for r in records} == {"Repeat", "Reverse"}
