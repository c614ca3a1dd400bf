"""Running a plan: finished stages are skipped, changed ones restart clean, an interrupted one resumes."""

from __future__ import annotations

import json

import pytest

from r1cli.config.core import resolve_config
from r1cli.config.pipeline import PipelineConfig
from r1cli.errors import R1Error
from r1cli.pipeline import state
from r1cli.pipeline.runner import describe, run_plan
from r1cli.pipeline.spec import build_plan

SMALL_MODEL = {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_kv_heads": 1, "intermediate_size": 64}


def stages(n: int = 1) -> dict:
    return {
        "data": {"kind": "data", "task": "arith", "n": 6, "held_out": 0},
        "base": {"kind": "init-model", **SMALL_MODEL},
        "draw": {"kind": "sample", "model": "${stages.base.output}", "data": "${stages.data.output}/problems.jsonl",
                 "generation": {"n": n, "max_new_tokens": 4, "temperature": 1.0}},
    }


def plan_of(tmp_path, st: dict, **report):
    flags = {"output_dir": str(tmp_path / "p"), "stages": st, "cpu_threads": 1}
    if report:
        flags["report"] = report
    return build_plan(resolve_config(PipelineConfig, command="pipeline", flags=flags))


def mtimes(path):
    return {p: p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file() and ".stages" not in p.parts}


def test_run_skip_stale_and_from(tmp_path, capsys):
    plan = plan_of(tmp_path, stages(), benchmark="arith", n=1, limit=3, max_new_tokens=4)
    first = run_plan(plan)
    assert first["ran"] == ["data", "base", "draw"]
    assert set(first["pass@1"]) == {"base"}  # the model stage was evaluated on held-out arith
    out = tmp_path / "p"
    assert (out / "heldout" / "base" / "arith" / "results.json").is_file()
    report = (out / "report.md").read_text()
    assert "| base | init-model | done |" in report and "| draw | sample | done |" in report
    assert (out / "pass_at_1.png").is_file()
    assert {r["stage"]: r["status"] for r in describe(plan)} == {"data": "done", "base": "done", "draw": "done"}

    before = mtimes(out / "draw")
    again = run_plan(plan_of(tmp_path, stages(), benchmark="arith", n=1, limit=3, max_new_tokens=4))
    assert again["ran"] == [] and mtimes(out / "draw") == before  # nothing redone, nothing rewritten

    changed = plan_of(tmp_path, stages(n=2), benchmark="arith", n=1, limit=3, max_new_tokens=4)
    rows = {r["stage"]: r for r in describe(changed)}
    assert rows["draw"]["status"] == "stale" and "generation.n: 1 -> 2" in rows["draw"]["reason"]
    assert rows["base"]["status"] == "done"
    capsys.readouterr()
    assert run_plan(changed)["ran"] == ["draw"]
    assert "stale (config changed: generation.n: 1 -> 2)" in capsys.readouterr().err
    records = [json.loads(x) for x in (out / "draw" / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 6 and all(len(r["samples"]) == 2 for r in records)  # restarted clean, not mixed

    assert run_plan(changed, start_from="base")["ran"] == ["base", "draw"]


def test_a_changed_upstream_makes_its_readers_stale(tmp_path):
    run_plan(plan_of(tmp_path, stages()))
    st = stages()
    st["base"] = {**st["base"], "seed": 3}
    rows = {r["stage"]: r for r in describe(plan_of(tmp_path, st))}
    assert rows["data"]["status"] == "done"
    assert rows["base"]["status"] == "stale" and "seed: 0 -> 3" in rows["base"]["reason"]
    assert rows["draw"]["status"] == "stale" and rows["draw"]["reason"] == "stage 'base' changed"


def test_an_interrupted_stage_resumes_in_place(tmp_path):
    plan = plan_of(tmp_path, stages())
    run_plan(plan)
    out = tmp_path / "p"
    # as if killed in the middle of `draw`: started, some records written, no finished marker
    lines = (out / "draw" / "samples.jsonl").read_text().splitlines()
    (out / "draw" / "samples.jsonl").write_text("\n".join(lines[:2]) + "\n")
    state.marker_path(plan, "draw").unlink()
    state.write_marker(plan, "draw", {"key": plan.get("draw").key}, ".started")
    assert {r["stage"]: r["status"] for r in describe(plan)}["draw"] == "resumes"
    assert run_plan(plan)["ran"] == ["draw"]
    ids = [json.loads(x)["id"] for x in (out / "draw" / "samples.jsonl").read_text().splitlines()]
    assert ids[:2] == [json.loads(x)["id"] for x in lines[:2]] and len(ids) == len(set(ids)) == 6


def test_only_needs_its_inputs_done_and_names_are_checked(tmp_path):
    plan = plan_of(tmp_path, stages())
    with pytest.raises(R1Error, match=r"stage 'draw' reads stage 'base', which is pending"):
        run_plan(plan, only="draw")
    with pytest.raises(R1Error, match=r"--from: no stage 'bse' \(did you mean 'base'\?\)"):
        run_plan(plan, start_from="bse")
    assert run_plan(plan, only="data")["ran"] == ["data"]
