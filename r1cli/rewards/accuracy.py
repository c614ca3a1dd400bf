"""The ``accuracy`` reward (alias ``acc``) and the answer helpers eval builds on.

Grading pipeline for one completion against its gold ``answer``:

1. :func:`r1cli.rewards.extract.split_answer` cuts the final answer out (after the last
   ``</think>``; an ``<answer>`` block; the last balanced ``\\boxed{}``) - pure Python, in the caller;
2. identical ``(gold, answer)`` pairs are graded once per call, and verdicts are remembered
   process-wide (an LRU of 50,000 entries) so ``acc`` and ``length`` in one run grade once;
3. pairs where both sides are plain numbers are decided in the caller in exact rational arithmetic
   (:func:`r1cli.rewards.mathgrade.fast_grade`, ``fast=True``), with math-verify's verdict;
4. the rest go to the grading pool (:mod:`r1cli.rewards.pool`): math-verify with the gold/prediction
   rules of :mod:`r1cli.rewards.mathgrade`, a hard wall clock per item (``timeout_s``, default 5 s).

Values: 1.0 correct, 0.0 wrong / no answer / timed out, ``None`` when the gold cannot be parsed (or
is missing). Timed-out items are counted in :attr:`AccuracyReward.timeouts`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from r1cli.errors import R1Error
from r1cli.rewards import mathgrade
from r1cli.rewards.columns import require_column
from r1cli.rewards.extract import completion_text, split_answer
from r1cli.rewards.pool import ItemResult, run_items

POOL_KEY = "math"
_CACHE_SIZE = 50_000
_CACHE_MAX_PAYLOAD = 4_000
ANSWER_HINT = "map the gold-answer field to it with --answer-field"
_CACHE: OrderedDict[tuple, float | None] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def _warm() -> None:
    """Import math-verify and build its parser once in the parent, before workers are forked."""
    mathgrade.parse_gold("1")
    mathgrade.parse_prediction("boxed", "1")


def _cache_get(key: tuple) -> tuple[bool, float | None]:
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return True, _CACHE[key]
    return False, None


def _cache_put(key: tuple, value: float | None) -> None:
    if sum(len(part) for part in key if isinstance(part, str)) > _CACHE_MAX_PAYLOAD:
        return
    with _CACHE_LOCK:
        _CACHE[key] = value
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)


def _run(fn: Any, arglist: Sequence[tuple], timeout_s: float, workers: int | None) -> list[ItemResult]:
    return run_items(POOL_KEY, fn, arglist, timeout_s, workers=workers, warm=_warm)


def _check_timeout(timeout_s: float) -> float:
    try:
        value = float(timeout_s)
    except (TypeError, ValueError):
        raise R1Error(f"timeout_s must be a number of seconds, got {timeout_s!r}") from None
    if not value > 0:
        raise R1Error(f"timeout_s must be > 0 seconds, got {timeout_s!r}")
    return value


class AccuracyReward:
    """Math accuracy through math-verify, graded in the process pool (see module docstring).

    ``fn(completions, answer=[...], **other_columns) -> list[float | None]``; ``completions`` are
    strings (or chat message lists); ``answer`` holds the gold answers aligned with them.

    Attributes:
        timeouts: items that hit the wall clock, summed over every call (each scored 0.0).
        errors: items on which math-verify raised (scored 0.0).
        last_timeouts: timeouts of the latest call.
    """

    def __init__(self, timeout_s: float = 5.0, workers: int | None = None, cache: bool = True,
                 fast: bool = True):
        self.__name__ = "accuracy"
        self.fast = bool(fast)
        self.timeout_s = _check_timeout(timeout_s)
        if workers is not None and (not isinstance(workers, int) or workers < 1):
            raise R1Error(f"workers must be a positive integer or None (all cores), got {workers!r}")
        self.workers = workers
        self.cache = bool(cache)
        self.timeouts = 0
        self.errors = 0
        self.last_timeouts = 0

    def __call__(
        self, completions: Sequence[Any], answer: Sequence[Any] | None = None, **columns: Any
    ) -> list[float | None]:
        golds = require_column("accuracy", "answer", answer, len(completions), hint=ANSWER_HINT)
        keys: list[tuple | None] = []
        for gold, completion in zip(golds, completions, strict=True):
            if gold is None or not str(gold).strip():
                keys.append(None)
                continue
            located = split_answer(completion_text(completion))
            kind, payload = located if located is not None else (None, None)
            keys.append((str(gold), kind, payload))
        verdicts, timeouts, errors = self._grade_keys(keys)
        self.last_timeouts = timeouts
        self.timeouts += timeouts
        self.errors += errors
        return verdicts

    def _grade_keys(self, keys: list[tuple | None]) -> tuple[list[float | None], int, int]:
        known: dict[tuple, float | None] = {}
        todo: list[tuple] = []
        for key in keys:
            if key is None or key in known:
                continue
            fast = mathgrade.fast_grade(*key) if self.fast else None
            hit, value = (True, fast) if fast is not None else _cache_get(key) if self.cache else (False, None)
            if hit:
                known[key] = value
            else:
                known[key] = None
                todo.append(key)
        timeouts = errors = 0
        for key, result in zip(todo, _run(mathgrade.grade, todo, self.timeout_s, self.workers), strict=True):
            if result.status == "ok":
                known[key] = result.value
                if self.cache:
                    _cache_put(key, result.value)
            else:
                known[key] = 0.0
                timeouts += result.status == "timeout"
                errors += result.status == "error"
        return [None if key is None else known[key] for key in keys], timeouts, errors


def make_accuracy_reward(
    timeout_s: float = 5.0, workers: int | None = None, cache: bool = True, fast: bool = True
) -> AccuracyReward:
    """Factory for ``accuracy``/``acc``: per-item wall clock ``timeout_s``, ``workers`` processes
    (None: every core), ``cache`` verdicts of repeated (gold, answer) pairs, ``fast``: decide plain
    numbers in exact arithmetic without math-verify (same verdicts; off only to measure the difference)."""
    return AccuracyReward(timeout_s=timeout_s, workers=workers, cache=cache, fast=fast)


# --- helpers for eval (extracted answers, no-answer rate, maj@k) --------------------------------


def extract_answers(texts: Sequence[Any], timeout_s: float = 5.0) -> list[str | None]:
    """The final answer string of each completion, as :func:`accuracy` reads it, or None.

    The last balanced ``\\boxed{}`` (after the last ``</think>``; inside ``<answer>`` if present) is
    returned as is; an ``<answer>`` block is returned as is when it parses as a formula, else (like
    any other final text) math-verify extracts the answer from it, in the pool with the same wall
    clock. None means "no answer" (eval's no-answer rate).
    """
    located = [split_answer(completion_text(t)) for t in texts]
    out: list[str | None] = [
        None if loc is None or loc[0] == "text" else ", ".join(loc[1]) if loc[0] == "boxes" else loc[1]
        for loc in located
    ]
    free = [i for i, loc in enumerate(located) if loc is not None and loc[0] in ("answer", "text")]
    if free:
        results = _run(mathgrade.answer_string, [located[i] for i in free], _check_timeout(timeout_s), None)
        for i, result in zip(free, results, strict=True):
            if result.status == "ok":
                out[i] = result.value
    return out


def extract_answer(text: Any) -> str | None:
    """The final answer of one completion (see :func:`extract_answers`); None when there is none.

    ``"<think>..\\boxed{3}..</think> so \\boxed{5}"`` -> ``"5"``; ``"<answer>7</answer>"`` -> ``"7"``.
    """
    return extract_answers([text])[0]


def answers_equivalent(a: str, b: str, timeout_s: float = 5.0) -> bool:
    """Whether extracted answer ``b`` verifies against ``a`` under math-verify (``a`` plays the gold).

    math-verify is not symmetric; pass the cluster representative (or the gold) first. A timeout
    counts as not equivalent.
    """
    return equivalent_pairs([(a, b)], timeout_s=timeout_s)[0]


def equivalent_pairs(pairs: Sequence[tuple[str, str]], timeout_s: float = 5.0) -> list[bool]:
    """:func:`answers_equivalent` for many pairs at once (graded in parallel)."""
    results = _run(
        mathgrade.equivalent, [(str(a), str(b)) for a, b in pairs], _check_timeout(timeout_s), None
    )
    return [r.status == "ok" and bool(r.value) for r in results]


def cluster_answers(answers: Sequence[str | None], timeout_s: float = 5.0) -> list[int | None]:
    """Cluster ids for maj@k: equal ids = equivalent answers; None answers get None (they do not vote).

    Greedy in input order: an answer joins the first existing cluster whose representative (its
    first member) it verifies against, else starts a new one. ``["1/2", "0.5", "3", None]`` ->
    ``[0, 0, 1, None]``.
    """
    reps: list[str] = []
    ids: list[int | None] = []
    for answer in answers:
        if answer is None or not str(answer).strip():
            ids.append(None)
            continue
        text = str(answer).strip()
        exact = [i for i, rep in enumerate(reps) if rep.replace(" ", "") == text.replace(" ", "")]
        if exact:
            ids.append(exact[0])
            continue
        matches = equivalent_pairs([(rep, text) for rep in reps], timeout_s) if reps else []
        hit = next((i for i, ok in enumerate(matches) if ok), None)
        if hit is None:
            reps.append(text)
            hit = len(reps) - 1
        ids.append(hit)
    return ids
