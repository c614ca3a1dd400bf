"""`r1 distill` engine: k teacher traces per problem -> verified, filtered SFT records.

Outputs in ``<output_dir>``:

- ``samples.jsonl``: the raw log, append-only, one line per problem (flushed and fsynced as soon as
  that problem's samples are scored): ``{"id", "problem", "answer"?, ...columns, "prompt", "samples":
  [{"text", "finish_reason", "num_tokens", "tokens_estimated"?, "rewards": {name: value}}],
  "prompt_tokens", "model", "params"}``. A rerun keeps every complete line, drops a torn last line
  and samples only the problems that have no line yet, so no trace is lost or duplicated;
- ``sft.jsonl``: ``{"id": "<problem id>#<sample>", "messages": [user prompt, assistant
  "<think>\\n…\\n</think>\\n\\nanswer"], "problem_id", "sample_index", "teacher", "reward_name", "reward",
  "num_tokens"}``, rebuilt from the whole raw log on every run (``r1 sft`` reads it as is), so a rerun
  with other filters or ``keep`` re-selects without sampling again;
- ``stats.json``: acceptance, per-filter rejections, tokens and cost (see :func:`derive`).

``run_distill(cfg)`` runs a config; ``backend=`` injects a ready :class:`GenerationBackend`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from r1cli.config.distill import DistillConfig
from r1cli.distill.derive import Rewarder, derive, mix_in
from r1cli.distill.filters import FilterSettings
from r1cli.errors import R1Error
from r1cli.generation.prompts import fill_template  # noqa: F401  (re-exported)

RAW_LOG = "samples.jsonl"
SFT_FILE = "sft.jsonl"
STATS_FILE = "stats.json"


def params_dict(cfg: DistillConfig) -> dict[str, Any]:
    """How the traces were sampled; stored on every raw-log line and compared on resume."""
    g = cfg.generation
    out: dict[str, Any] = {
        "backend": g.backend, "n": g.n, "temperature": g.temperature, "top_p": g.top_p, "top_k": g.top_k,
        "max_new_tokens": g.max_new_tokens, "stop": list(g.stop), "seed": g.seed,
        "system_prompt": g.system_prompt, "prefill_think": g.prefill_think,
        "prompt_template": cfg.data.prompt_template,
    }
    if g.backend == "tiny":
        out["tiny_error_rate"] = g.tiny_error_rate
    return out


def mix_pool(path: str) -> list[dict]:
    """The non-reasoning records of ``mix.path``, each checked as a chat record (file:line on error)."""
    from r1cli.data.chat import record_messages
    from r1cli.data.io import read_located

    rows, where = read_located(path)
    for row, at in zip(rows, where, strict=True):
        if not isinstance(row, dict):
            raise R1Error(f"{at}: expected a JSON object (a chat record), got {type(row).__name__}")
        record_messages(row, where=at)
    if not rows:
        raise R1Error(f"{path}: mix.path holds no records")
    return rows


def filter_settings(cfg: DistillConfig) -> FilterSettings:
    f = cfg.filters
    return FilterSettings(require_stop=f.require_stop, missing_think=f.missing_think, max_tokens=f.max_tokens,
                          max_foreign_share=f.max_foreign_share, allowed_scripts=tuple(f.allowed_scripts),
                          default_script=f.default_script, max_paragraph_chars=f.max_paragraph_chars,
                          drop_code_blocks=f.drop_code_blocks, min_reward=cfg.reward.min_value,
                          drop_duplicates=f.drop_duplicates)


def check_resumable(done: list[dict], model: str, params: dict[str, Any], path: Path) -> None:
    """A raw log written with another teacher or other sampling settings cannot be extended."""
    for record in done:
        theirs = {"model": record.get("model"), **(record.get("params") or {})}
        ours = {"model": model, **params}
        for key in ours:
            if theirs.get(key) != ours[key]:
                raise R1Error(f"{path}: problem '{record.get('id')}' was sampled with {key}={theirs.get(key)!r}, "
                              f"this run asks {key}={ours[key]!r}; use another --output-dir (or the same "
                              "settings to resume)")


def make_backend(cfg: DistillConfig, prompts: dict[str, dict]) -> Any:
    """The teacher: the tiny world's programmatic teacher, or a model behind the generation factory.

    ``prompts`` (prompt text -> problem record) is what the tiny teacher answers from.
    """
    g = cfg.generation
    if g.backend == "tiny":
        from r1cli.distill.teacher import TinyTeacherBackend

        return TinyTeacherBackend(str(cfg.model.path), prompts, seed=g.seed, error_rate=g.tiny_error_rate)
    from r1cli.generation import backend_from_config

    return backend_from_config(g, cfg.model)


def _sample(completion: Any) -> dict[str, Any]:
    """A raw-log sample from a :class:`Completion` (token count: ids when given, else the usage)."""
    usage = completion.usage or {}
    num_tokens = len(completion.token_ids) if completion.token_ids else usage.get("completion_tokens")
    out: dict[str, Any] = {"text": completion.text, "finish_reason": completion.finish_reason,
                           "num_tokens": num_tokens}
    if not completion.token_ids and usage.get("estimated"):
        out["tokens_estimated"] = True
    return out


def _prompt_tokens(group: list[Any], n: int, backend: Any) -> int | None:
    """Input tokens billed for one problem: the prompt once per request (n requests when the server
    refused ``n > 1``; the openai backend then sets ``n_supported = False``)."""
    counts = [c.usage.get("prompt_tokens") for c in group if (c.usage or {}).get("prompt_tokens") is not None]
    if not counts:
        return None
    return int(counts[0]) * (1 if getattr(backend, "n_supported", True) else n)


def sample_problems(backend: Any, todo: list[dict], prompts: dict[str, str], cfg: DistillConfig,
                    rewarder: Rewarder, raw_path: Path, *, already: int = 0) -> int:
    """Sample, score and append ``todo`` to the raw log, batch by batch; returns problems written.

    A batch whose scoring fails (or is interrupted) is still written, without the missing rewards,
    before the error propagates: samples paid for are never dropped (the rewards are filled in later).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from r1cli.console import err
    from r1cli.data.io import JsonlAppender
    from r1cli.generation.base import SamplingParams

    g = cfg.generation
    params = SamplingParams(n=g.n, temperature=g.temperature, top_p=g.top_p, max_new_tokens=g.max_new_tokens,
                            stop=tuple(g.stop), seed=g.seed, top_k=g.top_k)
    chat = not (g.backend == "openai" and g.endpoint == "completions")
    model, pdict = str(cfg.model.path), params_dict(cfg)
    written = 0
    bar = Progress(TextColumn("distill"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err)
    with JsonlAppender(raw_path) as log, bar:
        task = bar.add_task("distill", total=already + len(todo), completed=already)
        for start in range(0, len(todo), g.batch_size):
            batch = todo[start:start + g.batch_size]
            texts = [prompts[p["id"]] for p in batch]
            asked = [[{"role": "user", "content": t}] if chat else t for t in texts]
            groups = backend.generate(asked, params)
            if len(groups) != len(batch):
                raise R1Error(f"the {g.backend} backend returned {len(groups)} groups for {len(batch)} prompts")
            records = []
            for problem, text, group in zip(batch, texts, groups, strict=True):
                if len(group) != g.n:
                    raise R1Error(f"the {g.backend} backend returned {len(group)} samples for problem "
                                  f"'{problem['id']}', expected n={g.n}")
                records.append({**problem, "prompt": text, "samples": [_sample(c) for c in group],
                                "prompt_tokens": _prompt_tokens(group, g.n, backend), "model": model,
                                "params": pdict})
            try:
                rewarder.score(records)
            finally:
                for record in records:
                    log.write(record)
            written += len(records)
            bar.update(task, advance=len(records))
    return written


def run_distill(cfg: DistillConfig, *, backend: Any = None, rewarder: Rewarder | None = None) -> dict[str, Any]:
    """Sample what the raw log lacks, then rebuild ``sft.jsonl`` and ``stats.json``; returns the stats.

    ``backend`` / ``rewarder`` replace the configured teacher and reward (tests, Python callers).
    """
    from r1cli.console import err
    from r1cli.data.io import atomic_write_json, atomic_write_jsonl, load_problems, recover_jsonl

    if not cfg.data.path:
        raise R1Error("no problems: pass --data FILE (JSONL/JSON/Parquet/CSV or a hub dataset id)")
    if not cfg.model.path:
        raise R1Error("no teacher: pass --teacher MODEL (with --backend tiny: a task name, e.g. arith)")
    d = cfg.data
    problems = load_problems(d.path, split=d.split, problem_field=d.problem_field, answer_field=d.answer_field,
                             id_field=d.id_field, limit=d.limit)
    pool = mix_pool(cfg.mix.path) if cfg.mix.path else None  # checked before any sampling
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    raw_path = out / RAW_LOG
    done = recover_jsonl(raw_path)
    check_resumable(done, str(cfg.model.path), params_dict(cfg), raw_path)
    done_ids = {r.get("id") for r in done}
    todo = [p for p in problems if p["id"] not in done_ids]
    prompts = {p["id"]: fill_template(d.prompt_template, p) for p in todo}
    rewarder = rewarder or Rewarder(cfg.reward.name, cfg.reward.params)
    rewarder.prepare()
    if todo:
        already = len(problems) - len(todo)
        err.print(f"distill: {already} of {len(problems)} problems already in {raw_path}; sampling "
                  f"{len(todo)} x {cfg.generation.n}", soft_wrap=True)
        own = backend is None
        if own:
            backend = make_backend(cfg, {prompts[p["id"]]: p for p in todo})
        try:
            sample_problems(backend, todo, prompts, cfg, rewarder, raw_path, already=already)
        finally:
            if own:
                backend.close()
    records = recover_jsonl(raw_path)
    rewarder.score(records)  # rewards the log lacks (another reward configured since it was written)
    sft, stats = derive(records, reward=cfg.reward.name, settings=filter_settings(cfg), keep=cfg.keep,
                        input_per_mtok=cfg.cost.input_per_mtok, output_per_mtok=cfg.cost.output_per_mtok)
    stats = {"teacher": str(cfg.model.path), "backend": cfg.generation.backend, "reward": cfg.reward.name,
             "keep": cfg.keep, **stats}
    if pool is not None:
        sft, stats["mix"] = mix_in(sft, pool, cfg.mix.share, cfg.mix.seed)
        stats["mix"]["path"] = cfg.mix.path
    atomic_write_jsonl(out / SFT_FILE, sft)
    atomic_write_json(out / STATS_FILE, stats)
    cost = stats["cost"]
    if pool is not None:
        m = stats["mix"]
        err.print(f"distill: mixed in {m['mixed']} non-reasoning records from {cfg.mix.path} (share "
                  f"{cfg.mix.share}" + (f"; the file was {m['short_by']} short" if m["short_by"] else "") + ")",
                  soft_wrap=True)
    err.print(f"[green]distill[/green]: kept {stats['kept']} traces for {stats['problems_with_kept']}/"
              f"{stats['problems']} problems; acceptance {100 * stats['acceptance_rate']:.1f}% of "
              f"{stats['samples']} samples" + (f"; cost ${cost['total_usd']:.4f}" if cost else "")
              + f" -> {out / SFT_FILE}", soft_wrap=True)
    return stats
