"""``run_curate``: the engine behind ``r1 curate`` (mix, then the steps in the order given).

Step names and their parameters (:class:`StepSpec` ``params``; every key is checked, an unknown one
is an R1Error with "did you mean"):

- ``normalize``: fields, keep_newlines, max_garbled_ratio, require_answer
- ``dedup``: field, methods (exact/minhash/embedding), strip_digits, ngram, num_perm, threshold,
  bands, rows_per_band, seed, embedding_model, embedding_threshold, embedding_batch_size
- ``decontam``: benchmarks, ngram, field, strip_digits, benchmark_field
- ``verify``: reward, reward_params, solution_field, min_reward, drop_unverifiable
- ``difficulty``: backend (object; default: ``run_curate(backend=...)``), k, reward, reward_params,
  min_pass_rate, max_pass_rate, inclusive, temperature, top_p, max_new_tokens, seed, prompt_template, chat,
  cache_path (default ``<output_dir>/difficulty_samples.jsonl``), batch_size
- ``length``: tokenizer (path or object; default: ``run_curate(tokenizer=...)``), field, min_tokens,
  max_tokens
- ``pairs``: reward, reward_params, min_reward, select (random/shortest-longest), min_margin, seed
  (:mod:`r1cli.curate.pairs`; reads ``r1 sample`` output; also writes ``pairs.jsonl``)

Outputs in ``output_dir``: ``kept.jsonl``, ``removed.jsonl`` (each row with ``removed_by`` and
``reason``), ``stats.json``, ``report.md`` + ``length_<source>.png``. Resumable: step ``i``'s result
is checkpointed as ``.steps/<i>-<name>.jsonl`` (kept), ``.steps/<i>-<name>.removed.jsonl`` and
``.steps/<i>-<name>.json`` (its key and counts, written last; all files atomic). The key of step 0
(``mix``) hashes the inputs (spec + file bytes) and the seed; the key of step ``i`` hashes the key
of step ``i - 1`` and step ``i``'s name and parameters, so a rerun reuses every step up to the
first one whose configuration (or input) changed.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1cli.curate.decontam import decontam_rows
from r1cli.curate.dedup import dedup_rows
from r1cli.curate.difficulty import describe_object, difficulty_rows
from r1cli.curate.length import length_rows
from r1cli.curate.mix import InputSpec, input_fingerprint, load_input, mix
from r1cli.curate.normalize import normalize_rows
from r1cli.curate.pairs import check_pairs_params, pairs_rows
from r1cli.curate.rows import Row, StepResult
from r1cli.curate.verify import verify_rows
from r1cli.errors import R1Error, did_you_mean

STEPS: dict[str, Callable[..., StepResult]] = {
    "normalize": normalize_rows,
    "dedup": dedup_rows,
    "decontam": decontam_rows,
    "verify": verify_rows,
    "difficulty": difficulty_rows,
    "length": length_rows,
    "pairs": pairs_rows,
}


@dataclass(frozen=True)
class StepSpec:
    """One step: ``name`` (a key of :data:`STEPS`) and its keyword ``params`` (module docstring)."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


def parse_steps(text: str) -> list[StepSpec]:
    """``"normalize,dedup,decontam"`` -> default-parameter StepSpecs, validated."""
    specs = [StepSpec(s.strip()) for s in text.split(",") if s.strip()]
    for s in specs:
        check_step(s)
    return specs


def check_step(spec: StepSpec) -> Callable[..., StepResult]:
    fn = STEPS.get(spec.name)
    if fn is None:
        raise R1Error(f"curate: unknown step '{spec.name}'{did_you_mean(spec.name, STEPS)}; "
                      f"steps are: {', '.join(STEPS)}")
    allowed = [p for p in inspect.signature(fn).parameters if p != "rows"]
    for key in spec.params:
        if key not in allowed:
            raise R1Error(f"curate: step '{spec.name}' has no parameter '{key}'{did_you_mean(key, allowed)}; "
                          f"parameters are: {', '.join(allowed)}")
    if spec.name == "pairs":
        check_pairs_params(**spec.params)
    return fn


def _chain(prev_key: str, spec: StepSpec) -> str:
    blob = json.dumps({"name": spec.name, "params": spec.params}, sort_keys=True, default=describe_object)
    return hashlib.sha256(f"{prev_key}\n{blob}".encode()).hexdigest()


class _Checkpoints:
    """``output_dir/.steps/<i>-<name>.{jsonl,removed.jsonl,json}``."""

    def __init__(self, output_dir: Path):
        self.dir = output_dir / ".steps"

    def _paths(self, i: int, name: str) -> tuple[Path, Path, Path]:
        stem = self.dir / f"{i}-{name}"
        return stem.with_suffix(".jsonl"), Path(f"{stem}.removed.jsonl"), stem.with_suffix(".json")

    def load(self, i: int, name: str, key: str) -> tuple[StepResult, dict] | None:
        from r1cli.data.io import read_jsonl

        kept_p, removed_p, meta_p = self._paths(i, name)
        if not meta_p.is_file():
            return None
        try:
            meta = json.loads(meta_p.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return None
        if meta.get("key") != key or not kept_p.is_file() or not removed_p.is_file():
            return None
        kept, removed = list(read_jsonl(kept_p)), list(read_jsonl(removed_p))
        if len(kept) != meta.get("out") or len(removed) != meta.get("removed"):
            return None
        return (kept, removed), meta

    def save(self, i: int, name: str, result: StepResult, meta: dict) -> None:
        from r1cli.data.io import atomic_write_json, atomic_write_jsonl

        kept_p, removed_p, meta_p = self._paths(i, name)
        meta_p.unlink(missing_ok=True)  # invalidate first: files and meta must agree
        atomic_write_jsonl(kept_p, result[0])
        atomic_write_jsonl(removed_p, result[1])
        atomic_write_json(meta_p, meta)


def _run_step(i: int, spec: StepSpec, key: str, rows_in: list[Row], ckpt: _Checkpoints,
              run: Callable[[], StepResult], log: Callable[[str], None]) -> tuple[StepResult, dict]:
    cached = ckpt.load(i, spec.name, key)
    if cached is not None:
        log(f"{spec.name}: reusing checkpoint ({cached[1]['out']} kept, {cached[1]['removed']} removed)")
        return cached[0], {**cached[1], "resumed": True}
    t0 = time.perf_counter()
    kept, removed = run()
    meta = {"index": i, "name": spec.name, "key": key, "in": len(rows_in), "out": len(kept),
            "removed": len(removed), "seconds": round(time.perf_counter() - t0, 3)}
    ckpt.save(i, spec.name, (kept, removed), meta)
    log(f"{spec.name}: {meta['in']} in, {meta['out']} kept, {meta['removed']} removed ({meta['seconds']} s)")
    return (kept, removed), {**meta, "resumed": False}


def run_curate(inputs: list[InputSpec], steps: list[StepSpec], output_dir: str | Path, *, seed: int = 0,
               backend: Any = None, tokenizer: Any = None, plots: bool = True,
               log: Callable[[str], None] | None = None) -> dict:
    """Mix ``inputs``, run ``steps`` in order, write the outputs; returns the stats dict.

    ``backend`` (a GenerationBackend) is given to ``difficulty`` and ``tokenizer`` (path or object)
    to ``length`` unless their params name one; ``tokenizer`` also makes the report's histograms
    token lengths (else character lengths); ``plots=False`` skips the PNGs. ``log`` receives one
    line per step.
    """
    from r1cli.curate.report import write_outputs

    if not inputs:
        raise R1Error("curate: no inputs (give at least one --data file)")
    log = log or (lambda _msg: None)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    fns = [check_step(s) for s in steps]
    ckpt = _Checkpoints(out)
    step_stats: list[dict] = []
    removed_all: list[Row] = []

    key = input_fingerprint(list(inputs), seed)
    mix_spec = StepSpec("mix", {"seed": seed})
    datasets: list[tuple[InputSpec, list[Row]]] = []

    def run_mix() -> StepResult:
        datasets.extend((spec, load_input(spec)) for spec in inputs)
        return mix(datasets, seed=seed)

    (rows, gone), meta = _run_step(0, mix_spec, key, [], ckpt, run_mix, log)
    meta["in"] = len(rows) + len(gone)
    step_stats.append(meta)
    removed_all.extend(gone)
    mixed = rows

    for i, (spec, fn) in enumerate(zip(steps, fns, strict=True), start=1):
        params = dict(spec.params)
        if spec.name == "difficulty":
            params.setdefault("backend", backend)
        if spec.name == "length" and tokenizer is not None:
            params.setdefault("tokenizer", tokenizer)
        key = _chain(key, StepSpec(spec.name, params))  # injected backend/tokenizer count too
        if spec.name == "difficulty":
            params.setdefault("cache_path", out / "difficulty_samples.jsonl")
        rows_in = rows
        (rows, gone), meta = _run_step(i, spec, key, rows_in, ckpt,
                                       lambda fn=fn, params=params, rows_in=rows_in: fn(rows_in, **params), log)
        step_stats.append(meta)
        removed_all.extend(gone)

    result = write_outputs(out, inputs=list(inputs), mixed=mixed, kept=rows, removed=removed_all,
                           step_stats=step_stats, tokenizer=tokenizer, seed=seed, plots=plots)
    if any(spec.name == "pairs" for spec in steps):  # what r1 dpo reads
        from r1cli.data.io import atomic_write_jsonl

        atomic_write_jsonl(out / "pairs.jsonl", rows)
    return result
