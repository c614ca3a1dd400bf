"""Bad input files through every command: exit 2, one line naming file:line (and the byte offset of a
byte that is not UTF-8, or the field with its expected and found type), never a traceback.

Each case runs ``r1cli.app.main`` in-process (the console script's own error handler; the same
argv a shell passes), so the exit code and stderr are exactly what a user sees; one case runs
``python -m r1cli`` in a subprocess to show that.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from r1cli.app import main

GOOD = {"id": "p0", "problem": "What is 1 + 1?", "answer": "2"}


def run_main(argv: list[str], capsys, monkeypatch) -> tuple[int, str]:
    """Exit code and stderr of ``r1 ARGV``."""
    monkeypatch.setattr(sys, "argv", ["r1", *argv])
    with pytest.raises(SystemExit) as e:
        main()
    return e.value.code, capsys.readouterr().err


def one_error_line(err: str) -> str:
    """The single line of stderr, which must be an error and no traceback."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    return lines[0][len("error: "):]


def write_lines(path: Path, lines: list[bytes | dict]) -> Path:
    path.write_bytes(b"".join((x if isinstance(x, bytes) else json.dumps(x).encode()) + b"\n" for x in lines))
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> str:
    from r1cli.models.tiny import init_tiny

    return str(init_tiny(tmp_path_factory.mktemp("bad_inputs") / "model", hidden_size=32, num_layers=1,
                         num_heads=2, num_kv_heads=1, intermediate_size=64, max_position_embeddings=256))


# ------------------------------------------------------------------------------------- problem files

LATIN1_LINE = b'{"id": "p1", "problem": "Caf' + b"\xe9" + b' au lait: 2 + 2?", "answer": "4"}'


def problem_cases(tmp: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, the exact error message expected)."""
    column = LATIN1_LINE.index(b"\xe9")  # 28: the bad byte, counted from the line's start
    offset = len(json.dumps(GOOD)) + 1 + column  # 56 + 1 + 28 = 85, counted from the file's start
    nonutf8 = write_lines(tmp / "latin1.jsonl", [GOOD, LATIN1_LINE])
    problem_int = write_lines(tmp / "problem_int.jsonl", [GOOD, b"", {"id": "p1", "problem": 123, "answer": "4"}])
    answer_list = write_lines(tmp / "answer_list.jsonl", [GOOD, {"id": "p1", "problem": "2 + 2?", "answer": ["4"]}])
    misspelt = write_lines(tmp / "misspelt.jsonl", [GOOD, {"id": "p1", "problme": "2 + 2?", "answer": "4"}])
    return {
        "not utf-8": (nonutf8, f"{nonutf8}:2: not UTF-8: byte 0xe9 at byte offset {offset} of the file (byte "
                               f"{column} of line 2); re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"),
        "problem int": (problem_int, f"{problem_int}:3: field 'problem': expected a string, found an integer 123"),
        "answer list": (answer_list, f"{answer_list}:2: field 'answer': expected a string or a number, found a "
                                     "list [\"4\"] (keep one gold answer per problem, as text)"),
        "misspelt": (misspelt, f"{misspelt}:2: no field 'problem' (did you mean 'problme'?); fields are: id, "
                               "problme, answer"),
    }


def problem_command(name: str, data: Path, out: Path, model: str) -> list[str]:
    return {
        "sample": ["sample", "--model", model, "--data", str(data), "-o", str(out)],
        "grpo": ["grpo", "--preset", "tiny", "--model", model, "--data", str(data), "-o", str(out)],
        "distill": ["distill", "--teacher", "arith", "--backend", "tiny", "--data", str(data), "-o", str(out)],
        "curate": ["curate", "--data", str(data), "--steps", "normalize", "-o", str(out)],
        "eval": ["eval", "math500", "--data", str(data), "--model", model, "-o", str(out)],
    }[name]


MAPPING_HINT = {"sample": " (use --problem-field)", "distill": " (use --problem-field)",
                "curate": " (use --problem-field)", "grpo": " (map it with --set data.problem_field=NAME)",
                "eval": " (map it with --set data.problem_field=NAME)"}


@pytest.mark.parametrize("case", ["not utf-8", "problem int", "answer list", "misspelt"])
@pytest.mark.parametrize("command", ["sample", "grpo", "distill", "curate", "eval"])
def test_bad_problem_file_is_one_line_exit_2(command, case, model, tmp_path, capsys, monkeypatch):
    data, expected = problem_cases(tmp_path)[case]
    if case == "misspelt":
        expected += MAPPING_HINT[command]
    code, err = run_main(problem_command(command, data, tmp_path / "out", model), capsys, monkeypatch)
    assert code == 2 and one_error_line(err) == expected


@pytest.mark.parametrize("command", ["sample", "grpo", "distill", "curate", "eval"])
def test_integer_answer_is_read_as_text(command, model, tmp_path, monkeypatch):
    # "answer": 42 is normal in real datasets: every command reads it as "42" (load_problems is their
    # one reader; here it is checked where each command calls it, up to the first record it returns)
    from r1cli.data import io

    data = write_lines(tmp_path / "ints.jsonl", [{"id": 7, "problem": "6 * 7?", "answer": 42},
                                                 {"id": "b", "problem": "0.25 * 2?", "answer": 0.5}])
    seen = []

    def spy(*args, **kwargs):
        seen.append(real(*args, **kwargs))
        raise SystemExit(0)  # stop the command once the problems are read

    real = io.problems_from_rows
    monkeypatch.setattr(io, "problems_from_rows", spy)
    monkeypatch.setattr(sys, "argv", ["r1", *problem_command(command, data, tmp_path / "out", model)])
    with pytest.raises(SystemExit):
        main()
    assert [(r["id"], r["problem"], r["answer"]) for r in seen[0]] == [("7", "6 * 7?", "42"), ("b", "0.25 * 2?", "0.5")]


def test_null_answer_is_unlabeled_in_sample_but_an_error_in_eval(model, tmp_path, capsys, monkeypatch):
    data = write_lines(tmp_path / "unlabeled.jsonl", [GOOD, {"id": "p1", "problem": "2 + 2?", "answer": None}])
    code, _ = run_main(["sample", "--model", model, "--data", str(data), "--max-new-tokens", "2", "-o",
                        str(tmp_path / "s")], capsys, monkeypatch)
    records = [json.loads(x) for x in (tmp_path / "s" / "samples.jsonl").read_text().splitlines()]
    assert code == 0 and [r.get("answer") for r in records] == ["2", None]
    code, err = run_main(problem_command("eval", data, tmp_path / "e", model), capsys, monkeypatch)
    assert code == 2 and one_error_line(err) == (
        f"{data}:2: field 'answer' is null; every problem here needs its gold answer")


def test_subprocess_shows_the_same_line(tmp_path):
    data, expected = problem_cases(tmp_path)["not utf-8"]
    res = subprocess.run([sys.executable, "-m", "r1cli", "curate", "--data", str(data), "--steps", "normalize",
                          "-o", str(tmp_path / "out")], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    assert res.returncode == 2 and one_error_line(res.stderr) == expected and res.stdout == ""


# ----------------------------------------------------------------------------------------- SFT files


def test_sft_bad_records_are_one_line_exit_2(model, tmp_path, capsys, monkeypatch):
    user = {"role": "user", "content": "1 + 1?"}
    good = {"id": "s0", "messages": [user, {"role": "assistant", "content": "2"}]}
    cases = {
        "latin1.jsonl": ([good, b'{"messages": [{"role": "user", "content": "na\xefve"}]}'],
                         "{p}:2: not UTF-8: byte 0xef at byte offset {o} of the file (byte 45 of line 2); "
                         "re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"),
        "content_int.jsonl": ([good, {"messages": [user, {"role": "assistant", "content": 2}]}],
                              "{p}:2: field 'messages[1].content': expected a string, found an integer 2"),
        "content_null.jsonl": ([good, {"messages": [user, {"role": "assistant", "content": None}]}],
                               "{p}:2: field 'messages[1].content': expected a string, found a null"),
        "content_parts.jsonl": ([good, {"messages": [user, {"role": "assistant",
                                                             "content": [{"type": "text", "text": "2"}]}]}],
                                "{p}:2: field 'messages[1].content': expected a string, found a list "
                                "[{{\"type\": \"text\", \"text\": \"2\"}}] (a list of content parts is not "
                                "supported: join their text into one string)"),
        "prompt_int.jsonl": ([good, {"prompt": 5, "completion": "x"}],
                             "{p}:2: field 'prompt': expected a string or a list of messages, found an integer 5"),
        "misspelt.jsonl": ([good, {"id": "s1", "mesages": good["messages"]}],
                           "{p}:2: needs 'messages' or 'prompt' + 'completion' (did you mean 'mesages'?); fields "
                           "present: id, mesages (map them with --messages-field / --prompt-field / "
                           "--completion-field)"),
    }
    for name, (lines, expected) in cases.items():
        p = write_lines(tmp_path / name, lines)
        offset = len(json.dumps(good)) + 1 + 45  # line 1 and its newline, then 45 bytes
        code, err = run_main(["sft", "--model", model, "--data", str(p), "--max-steps", "1", "-o",
                              str(tmp_path / "out" / name)], capsys, monkeypatch)
        assert code == 2 and one_error_line(err) == expected.format(p=p, o=offset), name


# ------------------------------------------------------------------------------ eval --samples, config


def test_eval_samples_file_bad_records_are_one_line_exit_2(tmp_path, capsys, monkeypatch):
    good = {"id": "math500-0", "answer": "2", "samples": [{"text": "\\boxed{2}"}]}
    cases = {
        "latin1.jsonl": ([good, b'{"id": "x", "samples": [{"text": "\xff"}]}'],
                         "{p}:2: not UTF-8: byte 0xff at byte offset {o} of the file (byte 34 of line 2); "
                         "re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"),
        "text_int.jsonl": ([good, {"id": "x", "samples": [{"text": 4}]}],
                           "{p}:2: field 'samples[0].text': expected a string, found an integer 4"),
        "answer_dict.jsonl": ([good, {"id": "x", "answer": {"v": 2}, "samples": [{"text": "2"}]}],
                              "{p}:2: field 'answer': expected a string or a number, found an object {{\"v\": 2}}"),
        "misspelt.jsonl": ([good, {"id": "x", "sampels": [{"text": "2"}]}],
                           "{p}:2: no field 'samples' (did you mean 'sampels'?); fields are: id, sampels (a "
                           "sample record from r1 sample or r1 eval)"),
    }
    for name, (lines, expected) in cases.items():
        p = write_lines(tmp_path / name, lines)
        code, err = run_main(["eval", "math500", "--samples", str(p), "-o", str(tmp_path / "out")], capsys, monkeypatch)
        offset = len(json.dumps(good)) + 1 + 34  # line 1 and its newline, then 34 bytes
        assert code == 2 and one_error_line(err) == expected.format(p=p, o=offset), name


def test_non_utf8_config_file_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_bytes(b"generation:\n  n: 2\n# r\xe9sum\xe9 of the run\n")
    code, err = run_main(["sample", "--config", str(cfg), "--print-config"], capsys, monkeypatch)
    assert code == 2 and one_error_line(err) == (
        f"{cfg}:3: not UTF-8: byte 0xe9 at byte offset 22 of the file (byte 3 of line 3); re-encode the file as "
        "UTF-8 (e.g. iconv -f latin1 -t utf-8)")


def test_unreachable_decontam_benchmark_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("R1_BENCHMARK_DIR", raising=False)
    data = write_lines(tmp_path / "ok.jsonl", [GOOD])
    code, err = run_main(["curate", "--data", str(data), "--steps", "decontam", "--benchmarks", "math500", "-o",
                          str(tmp_path / "out")], capsys, monkeypatch)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and "Traceback" not in err and lines[-1] == (
        "error: benchmark 'math500': R1_BENCHMARK_DIR is not set, and hub dataset 'HuggingFaceH4/MATH-500' could "
        "not be loaded: offline mode is on (HF_HUB_OFFLINE/HF_DATASETS_OFFLINE=1) and it is not in the datasets "
        "cache; set R1_BENCHMARK_DIR to a folder with math500.jsonl, or give the file's path in --benchmarks")
    assert [ln for ln in lines if ln.startswith("error")] == lines[-1:]  # progress lines of mix before it
