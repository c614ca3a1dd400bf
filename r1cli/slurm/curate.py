"""The difficulty step of `r1 curate` as a SLURM job array (``r1 slurm curate --array K``).

The difficulty step samples ``k`` completions per row and caches them, keyed by the prompt, the
sampling parameters and the backend (:mod:`r1cli.curate.difficulty`); a curate run reuses every
cached completion. So the array fills that cache in parallel and the ordinary run does the rest:

- ``python -m r1cli.commands.slurm_curate shard I/K -- CURATE ARGS`` (array task ``I``): runs the steps before
  ``difficulty`` into ``<output_dir>/.difficulty-shards/I-of-K/`` (each task repeats them; they are
  cheap next to sampling), then samples rows ``I::K`` into ``<cache>.shardI-of-K.jsonl``;
- ``python -m r1cli.commands.slurm_curate merge K -- CURATE ARGS`` (the merge job): appends the K shard caches
  to the step's cache (``<output_dir>/difficulty_samples.jsonl``, or ``params.difficulty.cache_path``);
- then ``r1 curate CURATE ARGS`` finds every completion cached, samples nothing and writes the outputs.

CURATE ARGS are exactly what ``r1 curate`` takes; the job entry point (the CLI layer,
:mod:`r1cli.commands.slurm_curate`) resolves them with ``r1 curate ... --print-config``, so both see the
same merged config, and calls the functions here.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from r1cli.errors import R1Error


def difficulty_plan(cfg: Any) -> tuple[int, dict[str, Any], Path]:
    """``(index of the difficulty step, its parameters as r1 curate passes them, its cache path)``."""
    if "difficulty" not in cfg.steps:
        raise R1Error(f"r1 slurm curate --array shards the difficulty step, but the steps are "
                      f"{','.join(cfg.steps)}; add difficulty to --steps or submit without --array")
    from r1cli.curate.run import difficulty_params

    params = difficulty_params(cfg)  # exactly what r1 curate passes the step
    cache = Path(params.pop("cache_path", None) or Path(cfg.output_dir) / "difficulty_samples.jsonl")
    return cfg.steps.index("difficulty"), params, cache


def run_shard(cfg: Any, shard: tuple[int, int], *, backend: Any = None) -> Path:
    """Array task: sample the difficulty completions of rows ``i::k`` into the shard cache; return it."""
    from r1cli.curate import InputSpec, StepSpec, run_curate
    from r1cli.curate.difficulty import difficulty_rows
    from r1cli.data.io import read_jsonl
    from r1cli.generation.sampler import shard_path

    if not cfg.inputs:
        raise R1Error("r1 curate needs at least one input: --data FILE (repeatable)")
    j, params, cache = difficulty_plan(cfg)
    i, k = shard
    pre = Path(cfg.output_dir) / ".difficulty-shards" / f"{i}-of-{k}"
    inputs = [InputSpec(**x.model_dump()) for x in cfg.inputs]
    before = [StepSpec(name, dict(cfg.params.get(name, {}))) for name in cfg.steps[:j]]
    run_curate(inputs, before, pre, seed=cfg.seed, tokenizer=cfg.tokenizer, plots=False)
    rows = list(read_jsonl(pre / "kept.jsonl"))[i::k]
    out = shard_path(cache, shard)
    own = backend is None and "backend" not in params
    if own:
        from r1cli.generation import backend_from_config

        backend = backend_from_config(cfg.generation, cfg.model)
    try:
        difficulty_rows(rows, **{"backend": backend, **params, "cache_path": out})
    finally:
        if own:
            backend.close()
    return out


def merge(cfg: Any, k: int) -> dict[str, int]:
    """Merge job: append the ``k`` shard caches to the difficulty cache (records already there are
    skipped, so a rerun adds nothing); then drop the shard work directories."""
    from r1cli.data.io import JsonlAppender, recover_jsonl
    from r1cli.generation.sampler import shard_path

    _, _, cache = difficulty_plan(cfg)
    paths = [shard_path(cache, (i, k)) for i in range(k)]
    absent = [p for p in paths if not p.is_file()]
    if absent:
        raise R1Error(f"{absent[0]}: shard cache not found ({len(absent)} of {k} missing); rerun those array tasks")
    seen = {(r["id"], r["key"]) for r in recover_jsonl(cache)}
    added = 0
    with JsonlAppender(cache) as out:
        for p in paths:
            for rec in recover_jsonl(p):
                if (rec["id"], rec["key"]) not in seen:
                    out.write(rec)
                    seen.add((rec["id"], rec["key"]))
                    added += 1
    shutil.rmtree(Path(cfg.output_dir) / ".difficulty-shards", ignore_errors=True)
    return {"shards": k, "added": added, "cached": len(seen)}
