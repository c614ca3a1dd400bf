"""Config -> curate engine: maps `CurateConfig` onto `r1cli.curate.run_curate`."""

from __future__ import annotations

from r1cli.config.curate import CurateConfig
from r1cli.console import emit_json, err
from r1cli.errors import R1Error


def difficulty_params(cfg: CurateConfig) -> dict:
    """The difficulty step's parameters: the generation section's sampling settings as defaults,
    overridden by ``params.difficulty``."""
    g = cfg.generation
    defaults = {"k": g.n, "temperature": g.temperature, "top_p": g.top_p, "max_new_tokens": g.max_new_tokens,
                "seed": g.seed or 0}
    return {**defaults, **cfg.params.get("difficulty", {})}


def run_curate_from_config(cfg: CurateConfig) -> dict:
    from r1cli.curate import InputSpec, StepSpec, run_curate

    if not cfg.inputs:
        raise R1Error("r1 curate needs at least one input: --data FILE (repeatable) or inputs: in a config")
    if "decontam" in cfg.steps:  # an unreachable benchmark fails now, not after the steps before decontam
        import inspect

        from r1cli.curate.decontam import decontam_rows, load_benchmark

        default = inspect.signature(decontam_rows).parameters["benchmarks"].default
        for name in cfg.params.get("decontam", {}).get("benchmarks", default):
            load_benchmark(name)
    inputs = [InputSpec(**i.model_dump()) for i in cfg.inputs]
    steps = [StepSpec(name, difficulty_params(cfg) if name == "difficulty" else dict(cfg.params.get(name, {})))
             for name in cfg.steps]
    backend = None
    if "difficulty" in cfg.steps and "backend" not in cfg.params.get("difficulty", {}):
        from r1cli.generation import backend_from_config

        backend = backend_from_config(cfg.generation, cfg.model)
    try:
        stats = run_curate(inputs, steps, cfg.output_dir, seed=cfg.seed, backend=backend,
                           tokenizer=cfg.tokenizer, log=lambda line: err.print(line))
    finally:
        if backend is not None:
            backend.close()
    also = ", pairs.jsonl" if "pairs" in cfg.steps else ""
    err.print(f"[green]wrote[/green] {cfg.output_dir}/kept.jsonl, removed.jsonl, stats.json, report.md{also}")
    emit_json({"kept": stats["kept"], "removed": stats["removed"], "removed_by": stats["removed_by"]})
    return stats
