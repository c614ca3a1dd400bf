"""`r1 eval lm-eval:TASK[,TASK...]`: EleutherAI lm-evaluation-harness on the same model.

Runs :func:`lm_eval.simple_evaluate` (``HFLM`` on the local model for ``--backend hf``, lm-eval's
``vllm`` model for ``--backend vllm``), optionally with custom task YAMLs from
``lm_eval.include_path``, and writes each task's scores in the results.json shape of ``r1 eval``
under ``<output_dir>/lm-eval-<TASK>/``. The headline ``pass@1`` is the task's first metric (first
filter); every lm-eval metric of the task is kept under ``"lm_eval"``. Values lm-eval does not report
(truncation, no-answer rate, token counts, maj@k) are ``null``/empty rather than guessed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from r1cli.config.eval import EvalConfig
from r1cli.errors import MissingDependencyError, R1Error


def _lm_eval() -> Any:
    try:
        import lm_eval
    except ImportError:
        raise MissingDependencyError("lm-eval", "lmeval", "r1 eval lm-eval:TASK") from None
    return lm_eval


def parse_tasks(spec: str) -> list[str]:
    """``"gsm8k, minerva_math500"`` -> ``["gsm8k", "minerva_math500"]`` (an R1Error when empty)."""
    tasks = [t.strip() for t in spec.split(",") if t.strip()]
    if not tasks:
        raise R1Error("lm-eval: name at least one task, e.g. r1 eval lm-eval:gsm8k --model M")
    return tasks


def _gen_kwargs(cfg: EvalConfig) -> dict[str, Any] | None:
    """Generation overrides for lm-eval from the flags that were given (None: the tasks' own settings)."""
    g = cfg.generation
    out: dict[str, Any] = {}
    if g.temperature is not None:
        out["temperature"] = g.temperature
        out["do_sample"] = g.temperature > 0
    if g.top_p is not None:
        out["top_p"] = g.top_p
    if g.max_new_tokens is not None:
        out["max_gen_toks"] = g.max_new_tokens
    return out or None


def _check(cfg: EvalConfig) -> None:
    g = cfg.generation
    if g.backend not in ("hf", "vllm"):
        raise R1Error(f"lm-eval bridge runs the model with --backend hf or vllm, not '{g.backend}'")
    if g.n is not None:
        raise R1Error("lm-eval tasks set their own sample count ('repeats' in the task YAML); drop --n")
    if cfg.data.path:
        raise R1Error("lm-eval tasks name their own data; put a local JSONL in a task YAML and pass "
                      "--set lm_eval.include_path=DIR instead of --data")
    m = cfg.model
    unused = [k for k in ("attn_implementation", "rope_theta", "max_position_embeddings") if getattr(m, k) is not None]
    if unused:
        raise R1Error(f"lm-eval bridge loads the model itself and cannot apply model.{unused[0]}; unset it")
    if cfg.lm_eval.include_path and not Path(cfg.lm_eval.include_path).is_dir():
        raise R1Error(f"lm_eval.include_path: {cfg.lm_eval.include_path} is not a directory of task YAMLs")


def _model(cfg: EvalConfig) -> tuple[Any, dict[str, Any] | None]:
    path = str(cfg.model.path)
    dtype = cfg.model.dtype
    if cfg.generation.backend == "vllm":
        args: dict[str, Any] = {"pretrained": path, "dtype": dtype,
                                "tensor_parallel_size": cfg.generation.tensor_parallel_size,
                                "gpu_memory_utilization": cfg.generation.gpu_memory_utilization}
        if cfg.generation.max_model_len:
            args["max_model_len"] = cfg.generation.max_model_len
        return "vllm", args
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=path, device=cfg.lm_eval.device, dtype=dtype if dtype != "auto" else "auto",
                batch_size=cfg.lm_eval.batch_size), None


def headline(task_results: dict[str, Any], task_config: dict[str, Any]) -> tuple[str | None, float | None, float | None]:
    """``(metric_key, value, stderr)`` of a task: its first configured metric, first filter found."""
    metric_names = [m.get("metric") for m in task_config.get("metric_list") or [] if isinstance(m, dict)]
    keys = [k for k in task_results if "," in k and "_stderr," not in k]
    for name in [*metric_names, *[k.split(",", 1)[0] for k in keys]]:
        match = next((k for k in keys if k.split(",", 1)[0] == name), None)
        if match is None:
            continue
        value = task_results[match]
        metric, flt = match.split(",", 1)
        err = task_results.get(f"{metric}_stderr,{flt}")
        return match, _num(value), _num(err)
    return None, None, None


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def to_results(task: str, out: dict[str, Any], model: str, gen_kwargs: dict[str, Any] | None) -> dict[str, Any]:
    """One task of :func:`lm_eval.simple_evaluate`'s output in the results.json shape."""
    task_results = out["results"][task]
    config = out.get("configs", {}).get(task, {})
    key, value, err = headline(task_results, config)
    if key is None:
        raise R1Error(f"lm-eval task '{task}' reported no metric (results: {sorted(task_results)})")
    n_samples = out.get("n-samples", {}).get(task, {})
    repeats = int(config.get("repeats") or 1)
    params = {**(config.get("generation_kwargs") or {}), **(gen_kwargs or {}),
              "num_fewshot": out.get("n-shot", {}).get(task), "headline_metric": key}
    return {
        "benchmark": f"lm-eval:{task}", "model": model,
        "num_problems": int(n_samples.get("effective") or task_results.get("sample_len") or 0),
        "n": repeats, "params": params,
        "metrics": {"pass@1": value, "pass@1_stderr": err, "pass@k": {"1": value} if value is not None else {},
                    "maj@k": {}, "truncated_rate": None, "no_answer_rate": None, "mean_tokens": None},
        "lm_eval": {k: v for k, v in task_results.items() if k != "alias"},
    }


def _sample_records(samples: list[dict[str, Any]], task: str) -> list[dict[str, Any]]:
    rows = []
    for s in samples:
        doc = s.get("doc") or {}
        resps = s.get("resps") or []
        texts = [r[0] if isinstance(r, list) and r else r for r in resps]
        rows.append({"id": str(doc.get("id", s.get("doc_id"))), "doc": doc, "target": s.get("target"),
                     "samples": [{"text": str(t)} for t in texts], "filtered": s.get("filtered_resps"),
                     "metrics": {m: s.get(m) for m in s.get("metrics") or []}, "benchmark": f"lm-eval:{task}"})
    return rows


def run_lm_eval(spec: str, cfg: EvalConfig, out_root: Path) -> list[dict[str, Any]]:
    """Run the lm-eval tasks of ``spec`` on ``cfg.model`` and write one results.json per task."""
    from r1cli.console import err
    from r1cli.data.io import atomic_write_json, atomic_write_jsonl
    from r1cli.eval.report import plot_pass_at_k

    tasks = parse_tasks(spec)
    _check(cfg)
    lm_eval = _lm_eval()
    from lm_eval.tasks import TaskManager

    include = cfg.lm_eval.include_path
    manager = TaskManager(include_path=str(include) if include else None)
    unknown = [t for t in tasks if t not in manager.all_tasks]
    if unknown:
        from r1cli.errors import did_you_mean

        raise R1Error(f"lm-eval: unknown task '{unknown[0]}'{did_you_mean(unknown[0], manager.all_tasks)}"
                      + ("" if include else "; custom YAMLs need --set lm_eval.include_path=DIR"))
    model, model_args = _model(cfg)
    gen_kwargs = _gen_kwargs(cfg)
    err.print(f"lm-eval {lm_eval.__version__}: {', '.join(tasks)} on {cfg.model.path}")
    out = lm_eval.simple_evaluate(
        model=model, model_args=model_args, tasks=tasks, task_manager=manager, num_fewshot=cfg.lm_eval.num_fewshot,
        apply_chat_template=cfg.lm_eval.apply_chat_template, system_instruction=cfg.generation.system_prompt,
        gen_kwargs=gen_kwargs, limit=cfg.data.limit, log_samples=True,
        random_seed=cfg.generation.seed or 0,
    )
    if out is None:  # non-zero ranks under torchrun
        return []
    results = []
    for task in tasks:
        res = to_results(task, out, str(cfg.model.path), gen_kwargs)
        task_dir = out_root / f"lm-eval-{task}"
        atomic_write_json(task_dir / "results.json", res)
        atomic_write_jsonl(task_dir / "samples.jsonl", _sample_records(out.get("samples", {}).get(task, []), task))
        (task_dir / "lm_eval_raw.json").write_text(
            json.dumps({k: v for k, v in out.items() if k != "samples"}, indent=2, default=str), encoding="utf-8")
        plot_pass_at_k(res, task_dir / "pass_at_k.png")
        results.append(res)
    return results
