"""From the raw samples log to what a user keeps: rewards, verdicts, SFT records, stats and cost.

The raw log (``samples.jsonl``, one line per problem) is the source of truth; everything here is a
function of it and the config, so ``sft.jsonl`` and ``stats.json`` are rebuilt whole on every run
(and can be rebuilt with other filters without sampling again).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from r1cli.distill.filters import (
    FILTERS,
    FilterSettings,
    assemble_trace,
    first_failure,
    graded_text,
    mark_duplicates,
    render_trace,
    select_kept,
)

AUTO = "auto"
# Keys of a raw-log line that are not dataset columns (never passed to a reward).
RESERVED = ("id", "problem", "prompt", "samples", "prompt_tokens", "model", "params")


def _present(value: Any) -> bool:
    return value not in (None, "", [], {})


def reward_name_for(record: dict, name: str) -> str:
    """The reward that verifies ``record``: ``name`` itself, or for ``auto`` ``code`` (a ``tests`` or
    ``test_code`` column), ``countdown`` (``numbers`` and ``target``), else ``accuracy``."""
    if name != AUTO:
        return _canonical(name)
    if _present(record.get("tests")) or _present(record.get("test_code")):
        return "code"
    if "numbers" in record and "target" in record:
        return "countdown"
    return "accuracy"


def _canonical(name: str) -> str:
    from r1cli.rewards.registry import canonical_name

    return canonical_name(name)


class Rewarder:
    """Scores raw-log samples with the configured reward(s), filling ``sample["rewards"][name]``.

    ``params`` maps a reward name to its factory's keyword arguments; ``factory(name, **kwargs)``
    defaults to :func:`r1cli.rewards.get_reward`. One reward call per reward name per
    :meth:`score`, with every dataset column passed aligned with the completions.
    """

    def __init__(self, name: str, params: dict[str, dict[str, Any]] | None = None,
                 factory: Callable[..., Callable] | None = None) -> None:
        self.name = name
        self.params = {_canonical(k): dict(v) for k, v in (params or {}).items()}
        self._factory = factory
        self._fns: dict[str, Callable] = {}

    def prepare(self) -> None:
        """Build the named reward and every reward given parameters now, so a typo in a reward name or
        parameter fails before any sampling is paid for."""
        for name in ([] if self.name == AUTO else [_canonical(self.name)]) + list(self.params):
            self.fn(name)

    def fn(self, name: str) -> Callable:
        if name not in self._fns:
            factory = self._factory
            if factory is None:
                from r1cli.rewards import get_reward

                factory = get_reward
            self._fns[name] = factory(name, **self.params.get(name, {}))
        return self._fns[name]

    def score(self, records: list[dict]) -> int:
        """Fill in the missing rewards of ``records`` (in place); returns how many samples were scored."""
        groups: dict[str, list[tuple[dict, dict]]] = {}
        for record in records:
            name = reward_name_for(record, self.name)
            for sample in record["samples"]:
                if name not in (sample.get("rewards") or {}):
                    groups.setdefault(name, []).append((record, sample))
        for name, items in groups.items():
            columns = sorted({k for record, _ in items for k in record if k not in RESERVED})
            texts = [graded_text(s.get("text") or "", s.get("reasoning")) for _, s in items]
            kwargs = {c: [record.get(c) for record, _ in items] for c in columns}
            values = self.fn(name)(texts, **kwargs)
            if len(values) != len(items):
                raise RuntimeError(f"reward '{name}' returned {len(values)} values for {len(items)} samples")
            for (_, sample), value in zip(items, values, strict=True):
                sample.setdefault("rewards", {})[name] = None if value is None else float(value)
        return sum(len(items) for items in groups.values())


def judge(record: dict, reward: str, settings: FilterSettings, keep: int) -> tuple[list[str | None], list[int]]:
    """Per-sample first failing filter (``None``: passed) and the indices kept for ``record``."""
    failures = [first_failure(s, str(record.get("problem", "")), (s.get("rewards") or {}).get(reward), settings)
                for s in record["samples"]]
    traces = [_trace(s, settings) if f is None else None for s, f in zip(record["samples"], failures, strict=True)]
    if settings.drop_duplicates:
        failures = mark_duplicates(failures, traces)
    return failures, select_kept(failures, keep)


def _trace(sample: dict, settings: FilterSettings) -> str:
    """The assistant turn of a sample that passed the think filter."""
    parts = assemble_trace(sample.get("text") or "", sample.get("reasoning"), missing_think=settings.missing_think)
    assert parts is not None
    return render_trace(*parts)


def sft_record(record: dict, index: int, settings: FilterSettings, reward: str) -> dict[str, Any]:
    """The SFT record of sample ``index`` of ``record`` (which passed every filter)."""
    sample = record["samples"][index]
    return {
        "id": f"{record['id']}#{index}",
        "messages": [{"role": "user", "content": record["prompt"]},
                     {"role": "assistant", "content": _trace(sample, settings)}],
        "problem_id": record["id"],
        "sample_index": index,
        "teacher": record.get("model"),
        "reward_name": reward,
        "reward": sample["rewards"][reward],
        "num_tokens": sample.get("num_tokens"),
    }


def cost_usd(prompt_tokens: int, completion_tokens: int, input_per_mtok: float | None,
             output_per_mtok: float | None) -> dict[str, float] | None:
    """Dollars for the tokens: ``tokens / 1e6 * price`` for input and output; None without prices.

    A missing price counts as 0 for its side (e.g. only ``output_per_mtok`` given).
    """
    if input_per_mtok is None and output_per_mtok is None:
        return None
    inp = prompt_tokens / 1e6 * (input_per_mtok or 0.0)
    out = completion_tokens / 1e6 * (output_per_mtok or 0.0)
    return {"input_usd": inp, "output_usd": out, "total_usd": inp + out}


def derive(records: list[dict], *, reward: str, settings: FilterSettings, keep: int,
           input_per_mtok: float | None = None, output_per_mtok: float | None = None
           ) -> tuple[list[dict], dict[str, Any]]:
    """SFT records and stats for raw-log ``records`` whose rewards are already filled in.

    Stats: ``samples``; ``passed`` (every filter); ``kept`` (at most ``keep`` per problem) and
    ``surplus`` (passed but over ``keep``); ``acceptance_rate`` = passed / samples; ``kept_rate`` =
    kept / samples; ``problem_yield`` = problems with a kept trace / problems; ``rejected_by``: for
    each filter, the samples it was the first to reject (they sum to samples - passed); token sums
    (``unknown`` counts samples whose backend gave no count) and cost.
    """
    sft: list[dict] = []
    rejected = dict.fromkeys(FILTERS, 0)
    samples = passed = solved = 0
    prompt_tokens = completion_tokens = kept_tokens = unknown = 0
    estimated = False
    for record in records:
        name = reward_name_for(record, reward)
        failures, kept = judge(record, name, settings, keep)
        samples += len(failures)
        passed += failures.count(None)
        solved += bool(kept)
        for f in failures:
            if f is not None:
                rejected[f] += 1
        prompt_tokens += record.get("prompt_tokens") or 0
        for i, s in enumerate(record["samples"]):
            if s.get("num_tokens") is None:
                unknown += 1
            else:
                completion_tokens += s["num_tokens"]
                kept_tokens += s["num_tokens"] if i in kept else 0
            estimated = estimated or bool(s.get("tokens_estimated"))
        sft.extend(sft_record(record, i, settings, name) for i in kept)
    stats = {
        "problems": len(records),
        "samples": samples,
        "passed": passed,
        "kept": len(sft),
        "surplus": passed - len(sft),
        "acceptance_rate": passed / samples if samples else 0.0,
        "kept_rate": len(sft) / samples if samples else 0.0,
        "problems_with_kept": solved,
        "problem_yield": solved / len(records) if records else 0.0,
        "rejected_by": rejected,
        "tokens": {"prompt": prompt_tokens, "completion": completion_tokens, "kept_completion": kept_tokens,
                   "mean_kept": kept_tokens / len(sft) if sft else 0.0, "unknown": unknown,
                   "estimated": estimated},
        "cost": cost_usd(prompt_tokens, completion_tokens, input_per_mtok, output_per_mtok),
    }
    if stats["cost"] is not None:
        stats["cost"].update(input_per_mtok=input_per_mtok, output_per_mtok=output_per_mtok,
                             per_kept_usd=stats["cost"]["total_usd"] / len(sft) if sft else None)
    return sft, stats


def mix_in(sft: list[dict], pool: list[dict], share: float, seed: int = 0) -> tuple[list[dict], dict[str, Any]]:
    """``sft`` plus non-reasoning records from ``pool`` so that they make up ``share`` of the result.

    Wanted: ``round(len(sft) * share / (1 - share))`` records (600 traces at share 0.25 -> 200), drawn
    from ``pool`` in a ``seed``-shuffled order (all of it when it holds fewer: ``short_by`` says how
    many were missing). Each mixed record is tagged ``"source": "mix"``; the traces come first.
    """
    import random

    wanted = round(len(sft) * share / (1 - share)) if share else 0
    order = list(range(len(pool)))
    random.Random(seed).shuffle(order)
    drawn = [{**pool[i], "source": "mix"} for i in order[:wanted]]
    stats = {"share": share, "wanted": wanted, "mixed": len(drawn), "short_by": wanted - len(drawn),
             "available": len(pool)}
    return sft + drawn, stats
