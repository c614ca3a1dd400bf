"""GRPO rollouts: prompts in order (shuffled or curriculum), G completions each, rewards, and DAPO's
dynamic sampling. No torch here: generation and scoring come in as callables, so every piece is
testable with fakes.

Data flow of one step (per rank)::

    PromptSampler.take(k)  ->  render_prompt_text  ->  generate(texts, seed)  ->  score(texts, columns)
        -> Group(record, prompt_ids, completions, rewards, components, correct)
        -> collect_rollout: keep groups (all, or those whose rewards vary), refill, truncate.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from r1cli.errors import R1Error, did_you_mean
from r1cli.generation.prompts import fill_template  # noqa: F401  (re-exported)

CORRECTNESS_DEFAULTS = ("accuracy", "acc", "countdown", "code")


# ----------------------------------------------------------------------------------------- prompts


def curriculum_order(records: Sequence[dict], kind: str, field_name: str | None = None) -> list[int]:
    """Indices of ``records`` easy first: ``"difficulty"`` ascending, ``"pass_rate"`` descending.

    The sort is stable (ties keep file order). A record without the column is an R1Error naming it.
    """
    name = field_name or kind
    if kind not in ("difficulty", "pass_rate"):
        raise R1Error(f"unknown curriculum '{kind}'; use difficulty or pass_rate")
    keys = []
    for i, rec in enumerate(records):
        value = rec.get(name)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            cols = ", ".join(sorted(rec))
            raise R1Error(f"curriculum '{kind}': record {i + 1} (id {rec.get('id')!r}) has no numeric column "
                          f"'{name}'{did_you_mean(name, list(rec))}; columns: {cols} "
                          "(set data.curriculum_field)")
        keys.append(float(value) if kind == "difficulty" else -float(value))
    return sorted(range(len(records)), key=lambda i: keys[i])


@dataclass
class PromptSampler:
    """Endless stream of prompt records, epoch after epoch.

    ``order`` fixes a curriculum (the same every epoch); otherwise each epoch is a fresh permutation
    drawn from ``seed + epoch`` (``shuffle``) or file order. The state is ``(epoch, pos)``: saving
    and restoring it resumes the stream exactly.
    """

    records: list[dict]
    seed: int = 0
    shuffle: bool = True
    order: list[int] | None = None
    epoch: int = 0
    pos: int = 0

    def __post_init__(self) -> None:
        if not self.records:
            raise R1Error("no prompts to train on: the dataset is empty")
        self._perm: list[int] | None = None

    def _permutation(self) -> list[int]:
        if self._perm is None:
            if self.order is not None:
                self._perm = list(self.order)
            else:
                self._perm = list(range(len(self.records)))
                if self.shuffle:
                    random.Random(self.seed * 1_000_003 + self.epoch).shuffle(self._perm)
        return self._perm

    def take(self, k: int) -> list[dict]:
        """The next ``k`` records (crossing into the next epoch when needed)."""
        out = []
        while len(out) < k:
            perm = self._permutation()
            if self.pos >= len(perm):
                self.epoch, self.pos, self._perm = self.epoch + 1, 0, None
                continue
            out.append(self.records[perm[self.pos]])
            self.pos += 1
        return out

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.pos, self._perm = int(state["epoch"]), int(state["pos"]), None


def render_prompt_text(record: dict, *, template: str, chat: bool, tokenizer: Any = None,
                       system_prompt: str | None = None, prefill_think: bool = False) -> str:
    """The exact prompt text the policy continues for ``record``.

    ``chat``: the filled template becomes one user message rendered with the tokenizer's chat
    template (plus the optional system prompt and ``<think>`` prefill); otherwise it is used raw.
    """
    text = fill_template(template, record)
    if not chat:
        return text
    from r1cli.generation.prompts import render_prompt

    return render_prompt(tokenizer, [{"role": "user", "content": text}], system_prompt=system_prompt,
                         think_prefill=prefill_think)


# ------------------------------------------------------------------------------------------ groups


@dataclass
class Group:
    """One prompt and its G scored completions (the unit that is never split across ranks)."""

    record: dict
    prompt_text: str
    prompt_ids: list[int]
    completions: list[Any]  # r1cli.generation.base.Completion
    rewards: list[float | None] = field(default_factory=list)
    components: dict[str, list[float | None]] = field(default_factory=dict)
    correct: list[bool] = field(default_factory=list)

    def varies(self, metric: str = "reward") -> bool:
        """Whether the group carries a learning signal: its rewards (or correctness) are not all equal.

        ``None`` rewards are ignored; fewer than two judged completions never vary.
        """
        if metric == "accuracy":
            return len(set(self.correct)) > 1
        values = [r for r in self.rewards if r is not None]
        return len(values) > 1 and max(values) - min(values) > 0


Scorer = Callable[[list[str], dict[str, list]], tuple[list[float | None], dict[str, list[float | None]]]]
"""``score(completion_texts, columns) -> (totals, {component: values})``; columns are aligned lists."""


def pick_correctness(names: Sequence[str], explicit: str | None = None) -> str | None:
    """The reward component that defines "correct" (see ``RewardsSection.correctness``)."""
    if explicit is not None:
        return explicit
    return next((n for n in names if n in CORRECTNESS_DEFAULTS), None)


def score_groups(groups: list[Group], scorer: Scorer, correctness: str | None) -> None:
    """Fill ``rewards``, ``components`` and ``correct`` of every group with one scorer call.

    Columns passed to the rewards: every record column repeated G times, plus ``completion_ids``
    (token ids, for length-based rewards) and ``prompt`` (the rendered prompt text). A completion is
    correct when the ``correctness`` component is > 0 (or, without one, the total reward is > 0).
    """
    texts: list[str] = []
    columns: dict[str, list] = {}
    keys: list[str] = []
    for g in groups:
        for k in g.record:
            if k not in keys:
                keys.append(k)
    for k in keys:
        columns[k] = []
    columns["completion_ids"], columns["prompt"] = [], []
    for g in groups:
        for c in g.completions:
            texts.append(c.text)
            for k in keys:
                columns[k].append(g.record.get(k))
            columns["completion_ids"].append(list(c.token_ids))
            columns["prompt"].append(g.prompt_text)
    if not texts:
        return
    totals, components = scorer(texts, columns)
    if len(totals) != len(texts):
        raise R1Error(f"the reward returned {len(totals)} values for {len(texts)} completions")
    ref = components.get(correctness) if correctness else None
    at = 0
    for g in groups:
        n = len(g.completions)
        g.rewards = list(totals[at:at + n])
        g.components = {k: list(v[at:at + n]) for k, v in components.items()}
        base = ref[at:at + n] if ref is not None else g.rewards
        g.correct = [v is not None and v > 0 for v in base]
        at += n


# ---------------------------------------------------------------------------------------- sampling


@dataclass
class RolloutBatch:
    """The groups one rank trains on this step, plus what the collection cost."""

    groups: list[Group]
    rounds: int = 1
    generated_groups: int = 0  # on this rank, all rounds
    dropped_groups: int = 0  # zero-variance groups dropped by dynamic sampling (this rank)
    zero_std_groups: int = 0  # among generated groups (this rank)
    generate_s: float = 0.0
    reward_s: float = 0.0


def allot(counts: Sequence[int], total: int) -> list[int]:
    """Share ``total`` kept groups among ranks holding ``counts``, rank 0 first.

    ``allot([3, 5], 6) == [3, 3]``; ``allot([3, 5], 10) == [3, 5]`` (everything when short).
    """
    out, left = [], total
    for c in counts:
        take = max(0, min(c, left))
        out.append(take)
        left -= take
    return out


def collect_rollout(
    sampler: PromptSampler,
    make_groups: Callable[[list[dict], int], list[Group]],
    *,
    prompts_per_step: int,
    step: int,
    dynamic_sampling: bool = False,
    metric: str = "reward",
    max_rounds: int = 10,
    prompts_per_round: int | None = None,
    rank: int = 0,
    world_size: int = 1,
    gather_counts: Callable[[int], list[int]] | None = None,
    warn: Callable[[str], None] | None = None,
) -> RolloutBatch:
    """Collect one step's groups.

    ``make_groups(records, round)`` generates and scores the given records (this rank's share).
    Every round takes ``prompts_per_round`` (default ``prompts_per_step``) prompts from the shared
    sampler; rank ``r`` keeps ``records[r::world_size]``. Without dynamic sampling that is the whole
    batch. With it, groups whose rewards (``metric="reward"``) or correctness (``"accuracy"``) are
    all equal are dropped and further rounds run until the kept groups over all ranks reach
    ``prompts_per_step`` or ``max_rounds`` rounds ran (then the step trains on fewer, with a warning);
    the surplus is cut, rank 0 first (:func:`allot`). ``gather_counts(n)`` returns every rank's
    ``n``; all ranks run the same number of rounds, so their samplers stay identical.
    """
    per_round = prompts_per_round or prompts_per_step
    gather = gather_counts or (lambda n: [n])
    kept: list[Group] = []
    batch = RolloutBatch(groups=[], rounds=0)
    for rnd in range(max_rounds if dynamic_sampling else 1):
        records = sampler.take(per_round if dynamic_sampling else prompts_per_step)
        mine = records[rank::world_size]
        groups = make_groups(mine, rnd) if mine else []
        batch.rounds += 1
        batch.generated_groups += len(groups)
        zero = [g for g in groups if not g.varies(metric)]
        batch.zero_std_groups += sum(not g.varies("reward") for g in groups)
        if not dynamic_sampling:
            kept = groups
            break
        batch.dropped_groups += len(zero)
        kept.extend(g for g in groups if g.varies(metric))
        if sum(gather(len(kept))) >= prompts_per_step:
            break
    if dynamic_sampling:
        counts = gather(len(kept))
        total = sum(counts)
        if total < prompts_per_step and warn is not None:
            warn(f"step {step}: dynamic sampling kept {total} of {prompts_per_step} prompts after "
                 f"{batch.rounds} rounds; training on those (raise grpo.dynamic_sampling_max_rounds or use "
                 "harder/easier prompts)")
        kept = kept[: allot(counts, prompts_per_step)[rank]]
    batch.groups = kept
    return batch


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``(fn(*args, **kwargs), seconds)``."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0
