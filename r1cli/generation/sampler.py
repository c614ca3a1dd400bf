"""The engine of ``r1 sample``: n completions per problem into a resumable JSONL, one line per problem.

Record (DESIGN.md §3): ``{"id", "problem", "answer"?, <extra problem columns>, "samples": [{"text",
"finish_reason", "num_tokens"}], "model", "params"}``. ``num_tokens`` is ``len(token_ids)``, or the
server-reported ``usage["completion_tokens"]`` when a backend returns no ids (openai), else ``None``.

Crash safety: a line is appended (flush + fsync) only once all n samples of its problem exist. On rerun
the complete lines are kept and their ids skipped, a half-written last line is dropped
(:func:`r1cli.data.io.recover_jsonl`), and a problem is never written twice. Resuming with different
sampling params is refused (the file would mix two experiments).

Sharding (SLURM job arrays): ``shard=(i, k)``, 0-based, takes ``problems[i::k]`` after ``limit`` (the first
``limit`` problems of the dataset order): the k shards are disjoint and their union is the whole set.
:func:`merge_shards` joins shard files, refusing duplicate ids and reporting missing ones.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from r1cli.errors import R1Error
from r1cli.generation.base import Completion, GenerationBackend, Prompt, SamplingParams

RESERVED = ("id", "problem", "answer", "samples", "model", "params")


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"2/8"`` -> ``(2, 8)`` (0-based shard 2 of 8); None stays None."""
    if text is None or str(text).strip() == "":
        return None
    try:
        i, k = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise R1Error(f"--shard '{text}': expected i/k with integers, e.g. 0/4 (0-based shard i of k)") from None
    if k < 1 or not 0 <= i < k:
        raise R1Error(f"--shard '{text}': need 0 <= i < k (shards are 0-based: 0/{max(k, 1)} .. "
                      f"{max(k, 1) - 1}/{max(k, 1)})")
    return i, k


def shard_path(output: str | os.PathLike, shard: tuple[int, int] | None) -> Path:
    """``samples.jsonl`` + shard (1, 4) -> ``samples.shard1-of-4.jsonl`` (unchanged without a shard)."""
    p = Path(output)
    return p if shard is None else p.with_name(f"{p.stem}.shard{shard[0]}-of-{shard[1]}{p.suffix}")


def summary_path(output: str | os.PathLike, shard: tuple[int, int] | None = None) -> Path:
    """Where the summary of ``output`` goes: ``summary.json`` beside it (``summary.shardI-of-K.json``)."""
    p = Path(output)
    return p.with_name("summary.json" if shard is None else f"summary.shard{shard[0]}-of-{shard[1]}.json")


def select_problems(
    problems: Sequence[dict], *, limit: int | None = None, shard: tuple[int, int] | None = None
) -> list[dict]:
    """The first ``limit`` problems, then shard ``i`` of ``k`` (every k-th from i). Ids must be unique."""
    seen: set[str] = set()
    for i, problem in enumerate(problems):
        if "id" not in problem or "problem" not in problem:
            raise R1Error(f"problem {i} has no 'id'/'problem' field (got keys: {', '.join(problem)})")
        pid = str(problem["id"])
        if pid in seen:
            raise R1Error(f"duplicate problem id '{pid}' (record {i}); ids must be unique, resume relies on them")
        seen.add(pid)
    chosen = list(problems[:limit] if limit is not None else problems)
    return chosen if shard is None else chosen[shard[0]::shard[1]]


def params_dict(params: SamplingParams) -> dict[str, Any]:
    """JSON form of the sampling params, as stored in every record."""
    d = dataclasses.asdict(params)
    d["stop"] = list(params.stop)
    return d


def completion_tokens(c: Completion) -> int | None:
    """Generated token count: ids when the backend gives them, else the server's usage, else None."""
    if c.token_ids:
        return len(c.token_ids)
    count = (c.usage or {}).get("completion_tokens")
    return int(count) if isinstance(count, int) else None


def sample_record(problem: dict, completions: Sequence[Completion], *, model_name: str,
                  params: dict[str, Any]) -> dict[str, Any]:
    """One output line: the problem's fields, its samples, the model and the params."""
    record: dict[str, Any] = {"id": str(problem["id"]), "problem": problem["problem"]}
    if problem.get("answer") is not None:
        record["answer"] = problem["answer"]
    record.update({k: v for k, v in problem.items() if k not in RESERVED})
    record["samples"] = [{"text": c.text, "finish_reason": c.finish_reason, "num_tokens": completion_tokens(c)}
                         for c in completions]
    record["model"], record["params"] = model_name, params
    return record


def summarize(records: Sequence[dict], *, seconds: float | None = None, new_problems: int = 0,
              new_tokens: int = 0) -> dict[str, Any]:
    """Problems, samples, tokens, truncation rate (share of samples cut by max_new_tokens), throughput."""
    samples = [s for r in records for s in r.get("samples", [])]
    tokens = sum(s["num_tokens"] for s in samples if isinstance(s.get("num_tokens"), int))
    truncated = sum(1 for s in samples if s.get("finish_reason") == "length")
    out: dict[str, Any] = {
        "problems": len(records), "samples": len(samples), "tokens": tokens,
        "mean_tokens": round(tokens / len(samples), 2) if samples else 0.0,
        "truncation_rate": round(truncated / len(samples), 6) if samples else 0.0,
    }
    if seconds is not None:
        out["run"] = {"new_problems": new_problems, "new_tokens": new_tokens, "seconds": round(seconds, 3),
                      "problems_per_s": round(new_problems / seconds, 4) if seconds > 0 else None,
                      "tokens_per_s": round(new_tokens / seconds, 2) if seconds > 0 else None}
    return out


def _check_resumable(existing: list[dict], path: Path, pdict: dict[str, Any]) -> dict[str, dict]:
    done: dict[str, dict] = {}
    for lineno, record in enumerate(existing, start=1):
        rid = str(record.get("id"))
        if rid in done:
            raise R1Error(f"{path}:{lineno}: id '{rid}' appears twice; move the file away to start over")
        if record.get("params") != pdict:
            raise R1Error(f"{path}:{lineno}: written with other sampling params ({record.get('params')}) than "
                          f"this run ({pdict}); use another --output-dir or the same settings")
        done[rid] = record
    return done


def sample_to_file(
    backend: GenerationBackend,
    problems: list[dict],
    params: SamplingParams,
    output_path: str | os.PathLike,
    *,
    prompt_fn: Callable[[dict], Prompt],
    model_name: str,
    shard: tuple[int, int] | None = None,
    limit: int | None = None,
    batch_problems: int | None = None,
    progress: bool = True,
    on_record: Callable[[dict], None] | None = None,
) -> dict[str, Any]:
    """Sample ``params.n`` completions per problem into ``output_path`` (resumable; see module doc).

    ``batch_problems`` problems go to the backend per call (the backend batches their n samples
    further); a finished call's problems are written before the next starts, so it is also the most
    work a kill can lose. ``None`` takes the backend's ``problems_per_call`` hint (hf 16, vllm 512,
    openai 4 x concurrency, so every connection stays busy), else 16. Returns the summary, also
    written atomically to :func:`summary_path`.
    """
    from r1cli.data.io import JsonlAppender, atomic_write_json, recover_jsonl

    if batch_problems is None:
        batch_problems = int(getattr(backend, "problems_per_call", 16))
    if batch_problems < 1:
        raise R1Error("batch_problems must be at least 1")
    path = Path(output_path)
    target = select_problems(problems, limit=limit, shard=shard)
    pdict = params_dict(params)
    done = _check_resumable(recover_jsonl(path), path, pdict)
    todo = [p for p in target if str(p["id"]) not in done]
    started, new_tokens, written = time.perf_counter(), 0, 0
    with JsonlAppender(path) as out, _Progress(progress, len(target), len(target) - len(todo)) as bar:
        for start in range(0, len(todo), batch_problems):
            chunk = todo[start:start + batch_problems]
            groups = backend.generate([prompt_fn(p) for p in chunk], params)
            if len(groups) != len(chunk):
                raise R1Error(f"the {backend.name} backend returned {len(groups)} results for {len(chunk)} prompts")
            for problem, group in zip(chunk, groups, strict=True):
                if len(group) != params.n:
                    raise R1Error(f"the {backend.name} backend returned {len(group)} samples for problem "
                                  f"'{problem['id']}', expected n={params.n}")
                record = sample_record(problem, group, model_name=model_name, params=pdict)
                out.write(record)
                done[record["id"]] = record
                written += 1
                new_tokens += sum(s["num_tokens"] or 0 for s in record["samples"])
                if on_record is not None:
                    on_record(record)
            bar.advance(len(chunk), new_tokens)
    seconds = time.perf_counter() - started
    summary = summarize([done[str(p["id"])] for p in target], seconds=seconds, new_problems=written,
                        new_tokens=new_tokens)
    summary.update(output=str(path), resumed=len(target) - len(todo), model=model_name, params=pdict,
                   shard=f"{shard[0]}/{shard[1]}" if shard else None)
    atomic_write_json(summary_path(path, shard), summary)
    return summary


def merge_shards(paths: Sequence[str | os.PathLike], output: str | os.PathLike, *,
                 expected_ids: Sequence[str] | None = None) -> dict[str, Any]:
    """Merge shard files into ``output`` (atomically), in ``expected_ids`` order when given.

    A duplicate id across (or within) shards is an R1Error naming both places. Missing ids (expected
    but in no shard) are reported in the returned summary (``missing``, ``missing_ids``), not raised; a
    half-written last line of a shard (a shard still running or killed) is left out and counted.
    """
    from r1cli.data.io import atomic_write_json, atomic_write_jsonl

    where: dict[str, str] = {}
    records: dict[str, dict] = {}
    partial = 0
    for shard_file in paths:
        p = Path(shard_file)
        if not p.is_file():
            raise R1Error(f"{p}: shard file not found")
        data = p.read_bytes()
        lines = data.split(b"\n")
        if lines and lines[-1].strip():
            partial += 1  # no trailing newline: a torn last line
        offset = 0
        for lineno, line in enumerate(lines[:-1], start=1):
            start, offset = offset, offset + len(line) + 1
            if not line.strip():
                continue
            try:
                record = json.loads(line.decode("utf-8"))
            except UnicodeDecodeError as e:
                raise R1Error(f"{p}:{lineno}: corrupt line (byte 0x{line[e.start]:02x} at byte offset "
                              f"{start + e.start} of the file is not UTF-8); rerun that shard to repair it") from None
            except json.JSONDecodeError:
                raise R1Error(f"{p}:{lineno}: corrupt line; rerun that shard to repair it") from None
            if not isinstance(record, dict):
                raise R1Error(f"{p}:{lineno}: corrupt line (a JSON {type(record).__name__}, not a sample record); "
                              "rerun that shard to repair it")
            rid = str(record.get("id"))
            if rid in where:
                raise R1Error(f"duplicate id '{rid}' in {where[rid]} and {p}:{lineno}; shards must be disjoint")
            where[rid] = f"{p}:{lineno}"
            records[rid] = record
    if expected_ids is not None:
        wanted = [str(i) for i in expected_ids]
        missing = [i for i in wanted if i not in records]
        ordered = [records[i] for i in wanted if i in records]
        ordered += [r for i, r in records.items() if i not in set(wanted)]
    else:
        missing, ordered = [], list(records.values())
    atomic_write_jsonl(output, ordered)
    summary = summarize(ordered)
    summary.update(output=str(output), shards=len(paths), missing=len(missing), missing_ids=missing[:100],
                   torn_lines=partial)
    atomic_write_json(summary_path(output), summary)
    return summary


class _Progress:
    """A rich progress bar on stderr with problems/s and generated tokens/s (no-op when disabled)."""

    def __init__(self, enabled: bool, total: int, already: int):
        self.enabled, self.total, self.already = enabled, total, already
        self.start = time.perf_counter()
        self.bar: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("sampling"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[rates]}"), TimeRemainingColumn(),
                                console=Console(stderr=True), transient=False)
            self.bar.start()
            self.task = self.bar.add_task("sampling", total=self.total, completed=self.already,
                                          rates="0.00 problems/s, 0 tokens/s")
        return self

    def advance(self, problems: int, tokens_so_far: int) -> None:
        if self.bar is None:
            return
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        done = self.bar.tasks[0].completed + problems - self.already
        self.bar.update(self.task, advance=problems,
                        rates=f"{done / elapsed:.2f} problems/s, {tokens_so_far / elapsed:,.0f} tokens/s")

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
