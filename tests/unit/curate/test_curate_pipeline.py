"""run_curate: outputs, stats, report, resume, and parameter checking."""

import json

import pytest

from r1cli.curate.mix import InputSpec
from r1cli.curate.pipeline import StepSpec, parse_steps, run_curate
from r1cli.errors import R1Error


def read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def inputs(tmp_path, bench_dir, long_problem, jsonl_writer):
    write_jsonl, LONG_PROBLEM = jsonl_writer, long_problem
    a = write_jsonl(tmp_path / "a.jsonl", [
        {"id": "a0", "problem": LONG_PROBLEM, "answer": "1"},
        {"id": "a1", "problem": "What  is 6 times 7?", "answer": "42"},
        {"id": "a2", "problem": "   ", "answer": "0"},
    ])
    b = write_jsonl(tmp_path / "b.jsonl", [
        {"qid": 1, "question": LONG_PROBLEM.replace("shorter", "longer"), "gold": "1"},
        {"qid": 2, "question": "what is 6 times 7?", "gold": "42"},
        {"qid": 3, "question": "COMPUTE 17 times 23.", "gold": "391"},
        {"qid": 4, "question": "Name a prime between 20 and 28.", "gold": "23"},
    ])
    return [InputSpec(str(a)), InputSpec(str(b), problem_field="question", answer_field="gold", id_field="qid")]


STEPS = [StepSpec("normalize"), StepSpec("dedup"), StepSpec("decontam", {"benchmarks": ["toy"]})]


def test_run_curate_outputs_and_resume(tmp_path, inputs):
    out = tmp_path / "out"
    stats = run_curate(inputs, STEPS, out)
    kept, removed = read(out / "kept.jsonl"), read(out / "removed.jsonl")
    assert [(r["source"], r["id"]) for r in kept] == [("a", "a0"), ("a", "a1"), ("b", "4")]
    assert {r["id"]: (r["removed_by"], r["reason"]) for r in removed} == {
        "a2": ("normalize", "empty problem"),
        "2": ("dedup", "exact duplicate of a1 (normalised text)"),
        "1": ("dedup", "near-duplicate of a0 (jaccard≈0.86)"),  # 61/71 with symbols as tokens (conftest)
        "3": ("decontam", "contaminated: toy/toy-1 (exact normalised match)"),
    }
    # 7 rows: mix keeps 7; normalize 7 -> 6; dedup 6 -> 4; decontam 4 -> 3
    assert [(s["name"], s["in"], s["out"], s["removed"]) for s in stats["steps"]] == [
        ("mix", 7, 7, 0), ("normalize", 7, 6, 1), ("dedup", 6, 4, 2), ("decontam", 4, 3, 1)]
    assert json.loads((out / "stats.json").read_text())["removed_by"] == {"normalize": 1, "dedup": 2, "decontam": 1}
    report = (out / "report.md").read_text()
    assert "| 2 | dedup | 6 | 4 | 2 |" in report and "in characters: no tokenizer was given" in report
    assert (out / "length_a.png").stat().st_size > 0 and (out / "length_b.png").stat().st_size > 0
    assert sorted(p.name for p in (out / ".steps").glob("*.json")) == [
        "0-mix.json", "1-normalize.json", "2-dedup.json", "3-decontam.json"]

    # same config: every step is reused, outputs identical
    again = run_curate(inputs, STEPS, out, plots=False)
    assert all(s["resumed"] for s in again["steps"])
    assert read(out / "kept.jsonl") == kept
    # change the last step only: the first three are reused, decontam runs again
    changed = STEPS[:2] + [StepSpec("decontam", {"benchmarks": ["toy"], "ngram": 5})]
    third = run_curate(inputs, changed, out, plots=False)
    assert [s["resumed"] for s in third["steps"]] == [True, True, True, False]


def test_changed_input_invalidates_checkpoints(tmp_path, inputs):
    out = tmp_path / "out"
    run_curate(inputs, STEPS[:1], out, plots=False)
    with open(inputs[0].path, "a") as f:
        f.write(json.dumps({"id": "a3", "problem": "A new problem."}) + "\n")
    stats = run_curate(inputs, STEPS[:1], out, plots=False)
    assert [s["resumed"] for s in stats["steps"]] == [False, False]
    assert stats["kept"] == 7  # 8 rows, the blank one dropped


def test_unknown_steps_and_params_are_rejected(tmp_path, inputs):
    with pytest.raises(R1Error, match="unknown step 'dedupe' \\(did you mean 'dedup'\\?\\)"):
        parse_steps("normalize,dedupe")
    with pytest.raises(R1Error, match="step 'dedup' has no parameter 'treshold' \\(did you mean 'threshold'\\?\\)"):
        run_curate(inputs, [StepSpec("dedup", {"treshold": 0.7})], tmp_path / "o")
    with pytest.raises(R1Error, match="weight 1.5 must be in"):
        run_curate([InputSpec(inputs[0].path, weight=1.5)], [], tmp_path / "o")
