"""The engine of `r1 sample`: config -> backend -> resumable samples.jsonl (+ summary.json)."""

from __future__ import annotations

from pathlib import Path

from r1cli.config.sample import SampleConfig
from r1cli.console import emit_json, err
from r1cli.errors import R1Error


def _problems(cfg: SampleConfig) -> list[dict]:
    from r1cli.data.io import load_problems

    if not cfg.data.path:
        raise R1Error("r1 sample needs problems: pass --data FILE (JSONL/JSON/Parquet/CSV) or a hub dataset id")
    d = cfg.data
    return load_problems(d.path, split=d.split, problem_field=d.problem_field, answer_field=d.answer_field,
                         id_field=d.id_field)


def _prompt_fn(template: str):
    if "{problem}" not in template:
        raise R1Error(f"data.prompt_template must contain {{problem}}, got {template!r}")

    def prompt(problem: dict) -> list[dict]:
        return [{"role": "user", "content": template.replace("{problem}", str(problem["problem"]))}]

    return prompt


def sampling_params(g) -> SamplingParams:  # noqa: F821 - imported lazily
    from r1cli.generation.base import SamplingParams

    return SamplingParams(n=g.n, temperature=g.temperature, top_p=g.top_p, max_new_tokens=g.max_new_tokens,
                          stop=tuple(g.stop), seed=g.seed, top_k=g.top_k)


def check_sample_config(cfg: SampleConfig) -> None:
    """The mistakes found without reading data: a bad ``--shard``, no ``--data``, a template without {problem}."""
    from r1cli.generation.sampler import parse_shard

    parse_shard(cfg.shard)
    if not cfg.data.path:
        raise R1Error("r1 sample needs problems: pass --data FILE (JSONL/JSON/Parquet/CSV) or a hub dataset id")
    _prompt_fn(cfg.data.prompt_template)


def run_sample(cfg: SampleConfig) -> dict:
    from r1cli.generation import backend_from_config
    from r1cli.generation.sampler import parse_shard, sample_to_file, shard_path

    shard = parse_shard(cfg.shard)
    problems = _problems(cfg)
    output = shard_path(Path(cfg.output_dir) / "samples.jsonl", shard)
    backend = backend_from_config(cfg.generation, cfg.model)
    try:
        summary = sample_to_file(backend, problems, sampling_params(cfg.generation), output,
                                 prompt_fn=_prompt_fn(cfg.data.prompt_template),
                                 model_name=cfg.model.path or "default", shard=shard, limit=cfg.data.limit)
    finally:
        backend.close()
    err.print(f"[green]wrote[/green] {output}: {summary['problems']} problems, {summary['samples']} samples, "
              f"{summary['tokens']} tokens, truncation rate {summary['truncation_rate']:.3f}")
    emit_json({k: summary[k] for k in ("problems", "samples", "tokens", "truncation_rate")})
    return summary


def merge_sample_shards(cfg: SampleConfig, k: int) -> dict:
    """Merge ``samples.shardI-of-K.jsonl`` (I = 0..K-1) into ``samples.jsonl``; every id exactly once."""
    from r1cli.generation.sampler import merge_shards, select_problems, shard_path

    if k < 1:
        raise R1Error("--merge-shards K needs K >= 1")
    base = Path(cfg.output_dir) / "samples.jsonl"
    paths = [shard_path(base, (i, k)) for i in range(k)]
    expected = [p["id"] for p in select_problems(_problems(cfg), limit=cfg.data.limit)] if cfg.data.path else None
    summary = merge_shards(paths, base, expected_ids=expected)
    if summary["missing"]:
        raise R1Error(f"merged {len(paths)} shards into {base}, but {summary['missing']} problem(s) are missing "
                      f"(e.g. {', '.join(summary['missing_ids'][:3])}); rerun the shards that failed")
    err.print(f"[green]merged[/green] {k} shards -> {base}: {summary['problems']} problems")
    return summary
