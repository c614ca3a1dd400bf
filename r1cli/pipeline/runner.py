"""Run a plan: skip done stages, restart stale ones clean, resume the interrupted one, evaluate, report.

The pipeline holds its own directory for the whole run (:func:`r1cli.data.rundir.claim_output_dir`,
so two pipelines never write one directory) and each stage's directory while the stage runs, exactly
as the stage's command would. A stale stage's directory is discarded before it runs again (its old
results came from another config); an interrupted stage (started with the current key) is left as it
is and its command resumes it: ``resume: latest`` for trainers, the append-only outputs of sample,
distill, curate and eval. After a stage that outputs a model, its held-out pass@1 is measured
(``report:``) before the stage's marker is written, so a kill during that evaluation resumes it too.
"""

from __future__ import annotations

import shutil
import time
from contextlib import nullcontext
from typing import Any

from r1cli.console import emit_json, err
from r1cli.errors import R1Error
from r1cli.pipeline import state
from r1cli.pipeline.spec import Plan, Stage


def _main() -> bool:
    """Rank 0 (or no launcher): the process that writes markers, evaluations and the report. Under
    torchrun (a training stage of ``r1 slurm pipeline``) the other ranks only run the stage's engine."""
    from r1cli.train.distributed import env_world

    return env_world()[0] == 0


def _set_threads(n: int | None) -> None:
    if n:
        import torch

        torch.set_num_threads(n)


def discard(plan: Plan, stage: Stage, why: str) -> None:
    """Remove a stage's directory, held-out evaluation and markers (it restarts from nothing)."""
    if stage.dir.exists() or state.read_marker(plan, stage.name) or state.read_marker(plan, stage.name, ".started"):
        err.print(f"[yellow]{stage.name}[/yellow]: {why}; its directory {stage.dir} is discarded and it restarts")
    for path in (stage.dir, state.eval_dir(plan, stage)):
        if path.exists():
            shutil.rmtree(path)
    state.remove_markers(plan, stage.name)


def evaluate_stage(plan: Plan, stage: Stage) -> dict | None:
    """Held-out evaluation of a stage's model (``report:``); the results dict of ``r1 eval``."""
    rep = plan.config.report
    if not (stage.report and rep.benchmark):
        return None
    from r1cli.config.core import to_yaml, validate
    from r1cli.config.eval import EvalConfig
    from r1cli.data.rundir import claim_output_dir
    from r1cli.eval.runner import check_config, run_eval

    gen = {"backend": "hf", "n": rep.n, "temperature": rep.temperature, "top_p": rep.top_p}
    if rep.max_new_tokens:
        gen["max_new_tokens"] = rep.max_new_tokens
    raw = {"benchmarks": [rep.benchmark], "output_dir": str(state.eval_dir(plan, stage)), "model": {"path": str(stage.output)},
           "data": {"path": plan.report_data, "limit": rep.limit}, "generation": gen}
    cfg = validate(EvalConfig, raw, "report")
    check_config(cfg)
    with claim_output_dir(cfg.output_dir, cfg.model_dump(mode="json"), yaml_text=to_yaml(cfg), command="eval"):
        return run_eval(cfg)[0]


def run_stage(plan: Plan, stage: Stage) -> dict:
    from r1cli.config.core import to_yaml
    from r1cli.data.rundir import claim_output_dir

    main = _main()
    if main:
        state.write_marker(plan, stage.name, {"key": stage.key}, ".started")
    _set_threads(plan.config.cpu_threads)
    t0 = time.monotonic()
    claim = claim_output_dir(stage.dir, stage.config_data(), yaml_text=to_yaml(stage.config),
                             command=stage.kind.name, ignore=stage.kind.claim_ignore,
                             compare=stage.kind.compare) if main else nullcontext()
    with claim:
        summary = stage.kind.run(stage.config) or {}
    if not main:
        return {}
    if not stage.output.exists():
        raise R1Error(f"stage '{stage.name}' finished but its output {stage.output} does not exist")
    _set_threads(plan.config.cpu_threads)
    results = evaluate_stage(plan, stage)
    marker = {"key": stage.key, "kind": stage.kind.name, "config": stage.config_data(),
              "deps": {d: (state.read_marker(plan, d) or {}).get("key") for d in stage.deps}, "files": stage.files,
              "output": str(stage.output), "seconds": round(time.monotonic() - t0, 1),
              "summary": state.json_safe(summary), "eval": state.json_safe(results)}
    state.write_marker(plan, stage.name, marker)
    state.marker_path(plan, stage.name, ".started").unlink(missing_ok=True)
    return marker


def check_stage_flags(plan: Plan, *, start_from: str | None = None, only: str | None = None) -> None:
    """``--from`` / ``--only`` name stages of the plan (one line with "did you mean" for a typo)."""
    for flag, name in (("--from", start_from), ("--only", only)):
        if name is not None and name not in plan.names():
            try:
                plan.get(name)
            except R1Error as e:
                raise R1Error(f"{flag}: {e}") from None


def run_plan(plan: Plan, *, start_from: str | None = None, only: str | None = None, overwrite: bool = False) -> dict:
    """Run the plan (module docstring); write report.md; return the summary (also printed as JSON)."""
    from r1cli.config.core import to_yaml
    from r1cli.data.rundir import claim_output_dir
    from r1cli.pipeline.report import write_report

    names = plan.names()
    check_stage_flags(plan, start_from=start_from, only=only)
    t0 = time.time()
    main = _main()
    claim = claim_output_dir(plan.out, plan.config.model_dump(mode="json"), yaml_text=to_yaml(plan.config),
                             command="pipeline", compare=False, overwrite=overwrite) if main else nullcontext()
    with claim:
        if start_from is not None:
            for stage in plan.stages[names.index(start_from):]:
                discard(plan, stage, f"--from {start_from}")
        statuses = state.statuses(plan)
        ran: list[str] = []
        for stage in plan.stages:
            if only is not None and stage.name != only:
                continue
            status = statuses[stage.name]
            title = f"[bold]{stage.index + 1}/{len(names)} {stage.name}[/bold] ({stage.kind.name})"
            if status.state == "done":
                err.print(f"{title}: done, skipped")
                continue
            missing = [d for d in stage.deps if statuses[d].state != "done"]
            if missing:  # only with --only: the stage's inputs are not ready
                raise R1Error(f"stage '{stage.name}' reads stage '{missing[0]}', which is {statuses[missing[0]].state}: "
                              "run the pipeline up to it first")
            if not main:
                pass
            elif status.state == "stale":
                discard(plan, stage, f"stale ({status.reason})")
            elif status.state == "pending" and stage.dir.exists() and not state.read_marker(plan, stage.name, ".started"):
                discard(plan, stage, "its directory holds a run the pipeline did not start")
            err.rule(f"{title}{' — resuming' if status.state == 'resumes' else ''}", align="left")
            run_stage(plan, stage)
            statuses[stage.name] = state.Status("done")
            for later in plan.stages[stage.index + 1:]:  # a rerun stage changes what reads it
                if stage.name in later.deps and statuses[later.name].state == "done":
                    marker = state.read_marker(plan, later.name) or {}
                    if (marker.get("deps") or {}).get(stage.name) != stage.key:
                        statuses[later.name] = state.Status("stale", f"stage '{stage.name}' ran again")
            ran.append(stage.name)
        if not main:
            return {"ran": ran}
        report = write_report(plan)
    summary = {"output_dir": str(plan.out), "ran": ran, "seconds": round(time.time() - t0, 1), "report": str(report),
               "pass@1": {s.name: ((state.read_marker(plan, s.name) or {}).get("eval") or {}).get("metrics", {}).get("pass@1")
                          for s in plan.stages if s.report}}
    from r1cli.data.io import atomic_write_json

    atomic_write_json(plan.out / "summary.json", summary)
    err.print(f"[green]pipeline[/green] {plan.out}: ran {len(ran)} stage(s) in {summary['seconds']:.0f} s; report {report}")
    emit_json(summary)
    return summary


def describe(plan: Plan) -> list[dict[str, Any]]:
    """The plan as rows for ``--dry-run``: stage, kind, status (with the reason), inputs, output."""
    rows = []
    statuses = state.statuses(plan)
    for stage in plan.stages:
        st = statuses[stage.name]
        inputs = [f"{d} ({plan.get(d).output})" for d in stage.deps] + list(stage.files)
        rows.append({"stage": stage.name, "kind": stage.kind.name, "status": st.state, "reason": st.reason,
                     "inputs": inputs, "output": str(stage.output)})
    return rows
