"""The ``difficulty`` step: keep problems whose pass rate under a model lies in a band.

For every row, ``k`` completions of the prompt (``prompt_template`` filled with the problem; sent as
one user chat message when ``chat``) come from any :class:`~r1cli.generation.base.GenerationBackend`;
each is scored by a reward (``accuracy`` by default) against ``answer`` (the row's other columns,
e.g. countdown's ``numbers``/``target``, are passed to the reward too). ``pass_rate`` = mean of the
scores that are not ``None``. Kept when ``min_pass_rate < pass_rate < max_pass_rate`` (``inclusive``:
``<=`` on both sides); the default band (0, 1) drops never- and always-solved problems (Skywork-OR1
keeps 1..15 of 16; open-r1 uses 0.1..0.9). Every row gets a ``pass_rate`` column.

Sample cache: each problem's completions are appended (flush + fsync) to ``cache_path`` as
``{"id", "key", "samples": [{"text", "finish_reason", "num_tokens"}]}`` as soon as its batch is
generated; a rerun reuses every cached record whose ``key`` (hash of prompt, sampling parameters
and the backend's type and model name) matches and that holds at least ``k`` samples, so an interrupted run loses at most one batch.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from r1cli.curate.rows import Row, StepResult, mark_removed, reward_columns, text_of
from r1cli.curate.verify import resolve_reward
from r1cli.errors import R1Error

R1_PROMPT = "{problem}\nPlease reason step by step, and put your final answer within \\boxed{{}}."


def describe_object(obj: Any) -> str:
    """A stable text identity of a backend or tokenizer object: its type and string name attributes."""
    names = [getattr(obj, a, None) for a in ("name", "model_name", "name_or_path", "model")]
    return f"<{type(obj).__module__}.{type(obj).__qualname__} {' '.join(n for n in names if isinstance(n, str))}>"


def _sample_key(prompt: Any, params: Any, backend: Any) -> str:
    blob = json.dumps({"prompt": prompt, "params": repr(params), "backend": describe_object(backend)},
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def in_band(p: float, lo: float, hi: float, inclusive: bool) -> bool:
    """``lo < p < hi`` (or ``lo <= p <= hi`` when ``inclusive``)."""
    return lo <= p <= hi if inclusive else lo < p < hi


def difficulty_rows(rows: list[Row], *, backend: Any = None, k: int = 8, reward: Any = "accuracy",
                    reward_params: dict[str, Any] | None = None,
                    min_pass_rate: float = 0.0, max_pass_rate: float = 1.0, inclusive: bool = False,
                    temperature: float = 0.6, top_p: float = 0.95, max_new_tokens: int = 32768,
                    seed: int = 0, prompt_template: str = R1_PROMPT, chat: bool = True,
                    cache_path: str | Path | None = None, batch_size: int = 64) -> StepResult:
    """Sample ``k`` completions per row, add ``pass_rate`` and keep the rows inside the band."""
    from r1cli.data.io import JsonlAppender, recover_jsonl
    from r1cli.generation.base import SamplingParams

    if backend is None:
        raise R1Error("difficulty: needs a generation backend (a model to sample pass rates from)")
    if k < 1:
        raise R1Error(f"difficulty.k: {k} must be >= 1")
    if not 0.0 <= min_pass_rate <= max_pass_rate <= 1.0:
        raise R1Error(f"difficulty: band [{min_pass_rate}, {max_pass_rate}] must satisfy 0 <= min <= max <= 1")
    if "{problem}" not in prompt_template:
        raise R1Error("difficulty.prompt_template: must contain {problem}")
    fn = resolve_reward(reward, reward_params)
    params = SamplingParams(n=k, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens,
                            seed=seed)

    def prompt_of(row: Row) -> Any:
        text = prompt_template.format(problem=text_of(row, "problem", "difficulty"))
        return [{"role": "user", "content": text}] if chat else text

    cache: dict[str, list[dict]] = {}
    if cache_path is not None:
        for rec in recover_jsonl(cache_path):  # later records win
            cache[(rec["id"], rec["key"])] = rec["samples"]
    keys = [_sample_key(prompt_of(r), params, backend) for r in rows]
    todo = [i for i, r in enumerate(rows) if len(cache.get((str(r["id"]), keys[i]), [])) < k]
    appender = JsonlAppender(cache_path) if cache_path is not None else None
    try:
        for start in range(0, len(todo), batch_size):
            batch = todo[start:start + batch_size]
            outs = backend.generate([prompt_of(rows[i]) for i in batch], params)
            if len(outs) != len(batch) or any(len(o) != k for o in outs):
                raise R1Error(f"difficulty: backend {getattr(backend, 'name', type(backend).__name__)} "
                              f"returned the wrong number of completions (want {k} per prompt)")
            for i, comps in zip(batch, outs, strict=True):
                samples = [{"text": c.text, "finish_reason": c.finish_reason, "num_tokens": c.num_tokens}
                           for c in comps]
                cache[(str(rows[i]["id"]), keys[i])] = samples
                if appender is not None:
                    appender.write({"id": str(rows[i]["id"]), "key": keys[i], "samples": samples})
    finally:
        if appender is not None:
            appender.close()

    kept, removed = [], []
    for i, row in enumerate(rows):
        samples = cache[(str(row["id"]), keys[i])][:k]
        gold = row.get("answer")
        if gold is None or not str(gold).strip():
            removed.append(mark_removed({**row, "pass_rate": None}, "difficulty", "no gold answer to score against"))
            continue
        columns = reward_columns([row], repeat=len(samples))
        columns["answer"] = [str(gold)] * len(samples)
        scores = [s for s in fn([s["text"] for s in samples], **columns) if s is not None]
        if not scores:
            removed.append(mark_removed({**row, "pass_rate": None}, "difficulty",
                                        f"unscorable: the reward judged none of {k} samples"))
            continue
        rate = sum(scores) / len(scores)
        out = {**row, "pass_rate": rate}
        if in_band(rate, min_pass_rate, max_pass_rate, inclusive):
            kept.append(out)
        else:
            side = "too hard" if rate <= min_pass_rate else "too easy"
            band = f"[{min_pass_rate:g}, {max_pass_rate:g}]" if inclusive else f"({min_pass_rate:g}, {max_pass_rate:g})"
            removed.append(mark_removed(out, "difficulty", f"{side}: pass rate {rate:.2f} over {len(scores)} "
                                        f"samples outside {band}"))
    return kept, removed
