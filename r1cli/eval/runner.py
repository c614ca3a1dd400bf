"""`r1 eval` engine: generate -> grade -> metrics -> outputs, one folder per benchmark.

For each benchmark ``B`` the run writes ``<output_dir>/<B>/``:

- ``samples.jsonl``: one line per problem, ``{"id", "problem", "answer", ..., "samples": [{"text",
  "finish_reason", "num_tokens", "extracted", "correct"}], "model", "params", "benchmark"}``; generation
  appends to it problem by problem, so a rerun (or a crashed run) reuses what is already there;
- ``results.json``: ``{"benchmark", "model", "num_problems", "n", "params", "metrics": {"pass@1",
  "pass@1_stderr", "pass@k": {"1": ..}, "maj@k": {"1": ..}, "truncated_rate", "no_answer_rate",
  "mean_tokens"}}``;
- ``pass_at_k.png``: pass@k and maj@k against k.

Every problem gets exactly ``n`` samples; a backend that returns fewer raises :class:`R1Error`.
``evaluate(...)`` is the one-call Python API (the demo uses it); ``run_eval(cfg)`` runs a whole config.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from r1cli.config.eval import EvalConfig
from r1cli.errors import R1Error
from r1cli.eval.grading import compute_metrics, grade_records, ungraded_problems
from r1cli.eval.registry import Benchmark, get_benchmark, load_benchmark

LM_EVAL_PREFIX = "lm-eval:"


def sampling_params(bench: Benchmark, cfg: EvalConfig) -> Any:
    """The benchmark's protocol defaults with every value the config sets taken instead."""
    from r1cli.generation.base import SamplingParams

    g = cfg.generation
    return SamplingParams(
        n=g.n if g.n is not None else bench.n,
        temperature=g.temperature if g.temperature is not None else bench.temperature,
        top_p=g.top_p if g.top_p is not None else bench.top_p,
        max_new_tokens=g.max_new_tokens if g.max_new_tokens is not None else bench.max_new_tokens,
        stop=tuple(g.stop),
        seed=g.seed,
        top_k=g.top_k,
    )


def params_dict(params: Any, cfg: EvalConfig) -> dict[str, Any]:
    """What results.json records under ``params``: sampling values plus how prompts were built."""
    out = dataclasses.asdict(params)
    out["stop"] = list(out["stop"])
    out.update(backend=cfg.generation.backend, system_prompt=cfg.generation.system_prompt,
               prefill_think=cfg.generation.prefill_think, prompt_template=cfg.data.prompt_template)
    return out


def check_counts(records: list[dict], n: int, where: str) -> None:
    """Exactly ``n`` samples per problem, or an R1Error naming the first problem that differs."""
    for r in records:
        got = len(r.get("samples") or [])
        if got != n:
            raise R1Error(f"{where}: problem '{r.get('id')}' has {got} samples, expected exactly n={n} "
                          "(a backend returning fewer would silently lower the score)")


def finish(bench: Benchmark, records: list[dict], n: int, out_dir: Path, *, model: str,
           params: dict[str, Any], cfg: EvalConfig, extra_records: list[dict] | None = None) -> dict[str, Any]:
    """Grade ``records``, compute metrics, write samples.jsonl / results.json / pass_at_k.png."""
    from r1cli.console import err
    from r1cli.data.io import atomic_write_json, atomic_write_jsonl
    from r1cli.eval.report import plot_pass_at_k

    if not records:
        raise R1Error(f"benchmark '{bench.name}': no problems to evaluate")
    grade_records(bench, records, timeout_s=cfg.grading.timeout_s, workers=cfg.grading.workers)
    bad = ungraded_problems(records)
    if bad:
        err.print(f"[yellow]warning:[/yellow] {bench.name}: {len(bad)} problem(s) have a gold answer math-verify "
                  f"cannot parse (scored 0): {', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}")
    metrics = compute_metrics(bench, records, n, timeout_s=cfg.grading.timeout_s)
    results = {"benchmark": bench.name, "model": model, "num_problems": len(records), "n": n,
               "params": params, "metrics": metrics}
    for r in records:
        r["benchmark"] = bench.name
    atomic_write_jsonl(out_dir / "samples.jsonl", records + list(extra_records or []))
    atomic_write_json(out_dir / "results.json", results)
    plot_pass_at_k(results, out_dir / "pass_at_k.png")
    err.print(f"[green]{bench.name}[/green]: pass@1 {100 * metrics['pass@1']:.1f}% over {len(records)} "
              f"problems x {n} samples -> {out_dir}")
    return results


# ----------------------------------------------------------------------------------------- generation


def make_backend(cfg: EvalConfig) -> Any:
    """The generation backend of ``cfg`` (loads the model once for every benchmark of the run)."""
    from r1cli.generation import backend_from_config

    return backend_from_config(cfg.generation, cfg.model)


def benchmark_problems(bench: Benchmark, cfg: EvalConfig) -> list[dict]:
    """The benchmark's problems as the config selects them (data file, split, fields, limit)."""
    d = cfg.data
    return load_benchmark(bench, data=d.path, limit=d.limit, split=d.split, problem_field=d.problem_field,
                          answer_field=d.answer_field, id_field=d.id_field, seed=d.choice_seed)


def generate_benchmark(bench: Benchmark, cfg: EvalConfig, backend: Any, out_dir: Path,
                       shard: tuple[int, int] | None = None, problems: list[dict] | None = None) -> dict[str, Any]:
    """Sample (resuming ``samples.jsonl``), then grade and write the benchmark's outputs.

    With ``shard=(i, k)`` only problems ``i::k`` are sampled, into ``samples.shardI-of-K.jsonl``, and
    nothing is graded (:func:`merge_eval_shards` joins and grades); returns the sampling summary.
    ``problems``: the benchmark's problems when already read (default: :func:`benchmark_problems`).
    """
    from r1cli.generation.sampler import sample_to_file, shard_path

    problems = benchmark_problems(bench, cfg) if problems is None else problems
    params = sampling_params(bench, cfg)
    model = str(cfg.model.path)
    path = out_dir / "samples.jsonl"
    prompt_fn = lambda r: bench.prompt(r, cfg.data.prompt_template)  # noqa: E731
    if shard is not None:
        return sample_to_file(backend, problems, params, shard_path(path, shard), prompt_fn=prompt_fn,
                              model_name=model, shard=shard)
    sample_to_file(backend, problems, params, path, prompt_fn=prompt_fn, model_name=model)
    return grade_samples_file(bench, cfg, problems, params, path, out_dir)


def grade_samples_file(bench: Benchmark, cfg: EvalConfig, problems: list[dict], params: Any, path: Path,
                       out_dir: Path) -> dict[str, Any]:
    """Join ``path``'s samples onto ``problems`` (every one must have exactly n), grade, write outputs."""
    pdict = params_dict(params, cfg)
    model = str(cfg.model.path)
    by_id = {r["id"]: r for r in _read_existing(path)}
    wanted = [p["id"] for p in problems]
    missing = [i for i in wanted if i not in by_id]
    if missing:
        raise R1Error(f"{path}: no samples for problem '{missing[0]}' after generation ({len(missing)} missing)")
    records = [{**p, **{k: v for k, v in by_id[p["id"]].items() if k not in p or k == "samples"}} for p in problems]
    check_counts(records, params.n, str(path))
    wanted_set = set(wanted)
    extra = [r for i, r in by_id.items() if i not in wanted_set]  # earlier runs with a larger --limit
    return finish(bench, records, params.n, out_dir, model=model, params=pdict, cfg=cfg, extra_records=extra)


def _read_existing(path: Path) -> list[dict]:
    from r1cli.data.io import recover_jsonl

    return recover_jsonl(path)


# --------------------------------------------------------------------------------------------- regrade


def regrade(cfg: EvalConfig) -> dict[str, Any]:
    """Grade an existing samples file (``--samples FILE``) without generating."""
    from r1cli.data.io import read_jsonl_located

    path = Path(str(cfg.samples))
    located = list(read_jsonl_located(path))
    records = [_sample_record(r, f"{path}:{n}") for n, r in located]
    if not records:
        raise R1Error(f"{path}: no sample records")
    names = [b for b in cfg.benchmarks]
    if len(names) > 1:
        raise R1Error(f"--samples re-grades one benchmark at a time, got {len(names)}: {' '.join(names)}")
    name = names[0] if names else records[0].get("benchmark")
    if not name:
        raise R1Error(f"{path}: records do not say their benchmark; name it: r1 eval BENCH --samples {path}")
    bench = get_benchmark(str(name))
    if cfg.data.limit:
        records = records[: cfg.data.limit]
    n = cfg.generation.n or len(records[0]["samples"])
    if cfg.generation.n is not None:
        short = [r["id"] for r in records if len(r["samples"]) < n]
        if short:
            raise R1Error(f"{path}: problem '{short[0]}' has fewer than n={n} samples")
        records = [{**r, "samples": [dict(s) for s in r["samples"][:n]]} for r in records]
    check_counts(records, n, str(path))
    records = _join_columns(bench, records, cfg, path)
    model = str(records[0].get("model") or cfg.model.path or "unknown")
    params = dict(records[0].get("params") or {})
    params["n"] = n
    return finish(bench, records, n, Path(cfg.output_dir) / bench.name, model=model, params=params, cfg=cfg)


def _sample_record(r: dict, where: str) -> dict:
    """One record of a ``--samples`` file, checked: ``id`` (string or integer), ``samples`` (a list of
    objects with a string ``text``); ``answer``, when present, as :func:`r1cli.data.fields.as_answer`."""
    from r1cli.data.fields import as_answer, as_id, as_text, missing, wrong_type

    for key in ("id", "samples"):
        if key not in r:
            raise missing(where, key, r, " (a sample record from r1 sample or r1 eval)")
    rid = as_id(r["id"], where, "id")
    if rid is None:
        raise R1Error(f"{where}: field 'id' is empty")
    if not isinstance(r["samples"], list):
        raise wrong_type(where, "samples", "a list of samples", r["samples"])
    for j, smp in enumerate(r["samples"]):
        if not isinstance(smp, dict):
            raise wrong_type(where, f"samples[{j}]", "an object with a 'text'", smp)
        if "text" not in smp:
            raise missing(where, f"samples[{j}].text", smp)
        as_text(smp["text"], where, f"samples[{j}].text")
    out = {**r, "id": rid}
    if "answer" in r:
        out["answer"] = as_answer(r["answer"], where, "answer")
    return out


def _join_columns(bench: Benchmark, records: list[dict], cfg: EvalConfig, path: Path) -> list[dict]:
    """Fill in grading columns a samples file lacks (gold, choices, task numbers) from the benchmark data."""
    need = {"math": ["answer"], "choice": ["answer", "choices"], "task": []}[bench.kind]
    if bench.kind == "task":
        need = [k for k in load_benchmark(bench, limit=1)[0] if k not in ("id", "problem")]
    if all(all(k in r for k in need) for r in records):
        return records
    d = cfg.data
    problems = {p["id"]: p for p in load_benchmark(bench, data=d.path, split=d.split, problem_field=d.problem_field,
                                                   answer_field=d.answer_field, id_field=d.id_field,
                                                   seed=d.choice_seed)}
    out = []
    for r in records:
        if r["id"] not in problems:
            raise R1Error(f"{path}: problem '{r['id']}' lacks {', '.join(k for k in need if k not in r)} and is not "
                          f"in benchmark '{bench.name}' to take them from (pass the problems with --data)")
        out.append({**problems[r["id"]], **{k: v for k, v in r.items() if k not in need or k == "samples"}})
    return out


# ------------------------------------------------------------------------------------------------ runs


def check_config(cfg: EvalConfig) -> list[str]:
    """Validate what the run needs before loading anything; return the benchmark names."""
    names = list(cfg.benchmarks)
    if not names and not cfg.samples:
        raise R1Error("name at least one benchmark, e.g. r1 eval aime24 math500 --model M (or --samples FILE)")
    if cfg.samples:
        return names
    for name in names:
        if not name.startswith(LM_EVAL_PREFIX):
            get_benchmark(name)
    if cfg.data.path and len(names) > 1:
        raise R1Error(f"--data FILE holds one benchmark's problems, but {len(names)} benchmarks were named; "
                      "run one benchmark per --data file")
    if not cfg.model.path:
        raise R1Error("no model: pass --model PATH (a model directory or hub id; the served model name for "
                      "--backend openai)")
    return names


def run_eval(cfg: EvalConfig, shard: tuple[int, int] | None = None) -> list[dict[str, Any]]:
    """Run every benchmark of ``cfg`` (or re-grade ``cfg.samples``); return their results dicts.

    With ``shard`` (SLURM job arrays) each benchmark samples only its shard and returns sampling
    summaries; :func:`merge_eval_shards` grades once every shard is written.
    """
    names = check_config(cfg)
    if shard is not None:
        check_shardable(cfg, names, "--shard")
    if cfg.samples:
        return [regrade(cfg)]
    out_root = Path(cfg.output_dir)
    # every benchmark's problems first: a bad data file fails before a model is loaded
    problems = {n: benchmark_problems(get_benchmark(n), cfg) for n in names if not n.startswith(LM_EVAL_PREFIX)}
    results, backend = [], None
    try:
        for name in names:
            if name.startswith(LM_EVAL_PREFIX):
                from r1cli.eval.lm_eval_bridge import run_lm_eval

                results.extend(run_lm_eval(name[len(LM_EVAL_PREFIX):], cfg, out_root))
                continue
            bench = get_benchmark(name)
            if backend is None:
                backend = make_backend(cfg)
            results.append(generate_benchmark(bench, cfg, backend, out_root / bench.name, shard, problems[name]))
    finally:
        if backend is not None:
            backend.close()
    return results


def check_shardable(cfg: EvalConfig, names: list[str], flag: str) -> None:
    if cfg.samples:
        raise R1Error(f"{flag} splits generation; --samples re-grades a file that already exists (drop one)")
    lm = [n for n in names if n.startswith(LM_EVAL_PREFIX)]
    if lm:
        raise R1Error(f"{flag}: {lm[0]} runs inside lm-evaluation-harness, which r1 cannot shard; "
                      "run it without --shard")


def merge_eval_shards(cfg: EvalConfig, k: int) -> list[dict[str, Any]]:
    """Join ``samples.shardI-of-K.jsonl`` (I = 0..K-1) of every benchmark into its ``samples.jsonl``
    (each problem exactly once, in benchmark order), then grade as a whole run would."""
    from r1cli.console import err
    from r1cli.generation.sampler import merge_shards, shard_path

    names = check_config(cfg)
    check_shardable(cfg, names, "--merge-shards")
    if k < 1:
        raise R1Error(f"--merge-shards {k}: needs K >= 1")
    results = []
    for name in names:
        bench = get_benchmark(name)
        out_dir = Path(cfg.output_dir) / bench.name
        problems = benchmark_problems(bench, cfg)
        path = out_dir / "samples.jsonl"
        summary = merge_shards([shard_path(path, (i, k)) for i in range(k)], path,
                               expected_ids=[p["id"] for p in problems])
        if summary["missing"]:
            raise R1Error(f"{bench.name}: merged {k} shards into {path}, but {summary['missing']} problem(s) are "
                          f"missing (e.g. {', '.join(summary['missing_ids'][:3])}); rerun the shards that failed")
        err.print(f"[green]merged[/green] {k} shards -> {path}: {summary['problems']} problems")
        results.append(grade_samples_file(bench, cfg, problems, sampling_params(bench, cfg), path, out_dir))
    return results


def evaluate(benchmark: str, model: str | os.PathLike, *, output_dir: str | os.PathLike = "runs/eval",
             n: int | None = None, limit: int | None = None, data: str | os.PathLike | None = None,
             backend: str = "hf", **generation: Any) -> dict[str, Any]:
    """Evaluate one model on one benchmark and return its results dict (results.json shape).

    ``generation`` holds further ``generation.*`` config keys (``temperature``, ``max_new_tokens``,
    ``base_url``, ...). Example: ``evaluate("arith", "runs/demo/grpo", n=4, limit=50)``.
    """
    from r1cli.config.core import validate, write_config

    raw = {"benchmarks": [benchmark], "output_dir": str(output_dir), "model": {"path": str(model)},
           "data": {"path": str(data) if data else None, "limit": limit},
           "generation": {"backend": backend, "n": n, **generation}}
    cfg = validate(EvalConfig, raw, "evaluate() arguments")
    check_config(cfg)
    write_config(cfg, cfg.output_dir)
    return run_eval(cfg)[0]
