"""Per-sample verdicts, extracted answers and the benchmark metrics of graded sample records.

A sample record (DESIGN.md §3) is ``{"id", "problem", "answer", ..., "samples": [{"text",
"finish_reason", "num_tokens", ...}]}``. :func:`grade_records` adds ``"extracted"`` (the answer the
grader read, None when there is none) and ``"correct"`` (True/False; None when the gold answer itself
cannot be parsed) to every sample; :func:`compute_metrics` turns graded records into the ``metrics``
block of results.json using the pure functions of :mod:`r1cli.eval.metrics`.

Grading by answer type:

- ``math``: the ``accuracy`` reward (math-verify in the grading pool, hard timeout per item);
  maj@k clusters answers by math-verify equivalence to the cluster's first member;
- ``choice``: the option letter (:func:`r1cli.eval.gpqa.extract_letter`) against the gold letter;
- ``task``: the task's own checker; maj@k treats every answer the checker accepts as one answer
  (e.g. two countdown expressions that both reach the target) and others by their normalised text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from r1cli.eval import metrics as M
from r1cli.eval.registry import Benchmark


def _math_grade(records: list[dict], timeout_s: float, workers: int | None) -> None:
    from r1cli.rewards.accuracy import extract_answers, make_accuracy_reward

    texts = [s["text"] for r in records for s in r["samples"]]
    golds = [r.get("answer") for r in records for _ in r["samples"]]
    if not texts:
        return
    verdicts = make_accuracy_reward(timeout_s=timeout_s, workers=workers)(texts, answer=golds)
    answers = extract_answers(texts, timeout_s=timeout_s)
    it = iter(zip(verdicts, answers, strict=True))
    for r in records:
        for s in r["samples"]:
            verdict, answer = next(it)
            s["extracted"] = answer
            s["correct"] = None if verdict is None else verdict >= 1.0


def _choice_grade(records: list[dict]) -> None:
    from r1cli.eval.gpqa import extract_letter

    for r in records:
        for s in r["samples"]:
            letter = extract_letter(s["text"], r.get("choices"))
            s["extracted"] = letter
            s["correct"] = letter is not None and letter == str(r["answer"]).strip().upper()


def _task_grade(bench: Benchmark, records: list[dict]) -> None:
    from r1cli.tasks import extract_boxed

    task = bench.task
    for r in records:
        for s in r["samples"]:
            s["extracted"] = extract_boxed(s["text"])
            s["correct"] = bool(task.check(s["text"], r))


def grade_records(bench: Benchmark, records: list[dict], *, timeout_s: float = 5.0,
                  workers: int | None = None) -> list[dict]:
    """Add ``extracted`` and ``correct`` to every sample of ``records`` (in place); return them."""
    if bench.kind == "math":
        _math_grade(records, timeout_s, workers)
    elif bench.kind == "choice":
        _choice_grade(records)
    else:
        _task_grade(bench, records)
    return records


# --------------------------------------------------------------------------------------- maj@k voting


def _math_voting(timeout_s: float) -> tuple[Callable[[str, str], bool], Callable[[dict, str], bool]]:
    from r1cli.rewards.accuracy import answers_equivalent

    memo: dict[tuple[str, str], bool] = {}

    def equivalent(a: str, b: str) -> bool:
        if a.replace(" ", "") == b.replace(" ", ""):
            return True
        if (a, b) not in memo:
            memo[(a, b)] = answers_equivalent(a, b, timeout_s=timeout_s)
        return memo[(a, b)]

    def gold_correct(record: dict, answer: str) -> bool:
        gold = record.get("answer")
        return gold is not None and bool(str(gold).strip()) and answers_equivalent(str(gold), answer, timeout_s=timeout_s)

    return equivalent, gold_correct


def _task_voting(bench: Benchmark, record: dict) -> tuple[Callable[[str, str], bool], Callable[[dict, str], bool]]:
    from r1cli.tasks.arith import parse_int

    task = bench.task
    ok_memo: dict[str, bool] = {}

    def ok(answer: str) -> bool:
        if answer not in ok_memo:
            ok_memo[answer] = bool(task.check("\\boxed{" + answer + "}", record))
        return ok_memo[answer]

    def norm(answer: str) -> str:
        value = parse_int(answer)
        return str(value) if value is not None else answer.replace(" ", "")

    def equivalent(a: str, b: str) -> bool:
        return (ok(a) and ok(b)) or norm(a) == norm(b)

    return equivalent, lambda _record, answer: ok(answer)


def maj_curve(bench: Benchmark, records: list[dict], n: int, *, timeout_s: float = 5.0) -> dict[str, float]:
    """maj@k for k in :func:`~r1cli.eval.metrics.curve_ks` of ``n``: mean over problems (no votes -> 0)."""
    ks = M.curve_ks(n)
    totals = dict.fromkeys(ks, 0.0)
    math_fns = _math_voting(timeout_s) if bench.kind == "math" else None
    for r in records:
        answers = [s.get("extracted") for s in r["samples"][:n]]
        if bench.kind == "math":
            equivalent, gold_correct = math_fns  # type: ignore[misc]
        elif bench.kind == "task":
            equivalent, gold_correct = _task_voting(bench, r)
        else:
            gold = str(r["answer"]).strip().upper()
            equivalent, gold_correct = (lambda a, b: a == b), (lambda _r, a, g=gold: a == g)
        curve = M.maj_at_k_curve([answers], lambda _p, a, r=r, f=gold_correct: f(r, a), equivalent, ks=ks)
        for k in ks:
            totals[k] += curve[str(k)]
    return {str(k): totals[k] / len(records) for k in ks}


def compute_metrics(bench: Benchmark, records: list[dict], n: int, *, timeout_s: float = 5.0) -> dict[str, Any]:
    """The ``metrics`` block of results.json for graded ``records`` with exactly ``n`` samples each.

    ``{"pass@1", "pass@1_stderr", "pass@k": {"1": ..}, "maj@k": {"1": ..}, "truncated_rate",
    "no_answer_rate", "mean_tokens"}``; a sample whose verdict is None (unparseable gold) counts as
    incorrect; ``mean_tokens`` averages the samples with a token count (None when none has one).
    """
    counts = [sum(1 for s in r["samples"][:n] if s.get("correct") is True) for r in records]
    samples = [s for r in records for s in r["samples"][:n]]
    pass1, stderr = M.pass_at_1_with_stderr(counts, n)
    tokens = [s["num_tokens"] for s in samples if isinstance(s.get("num_tokens"), int)]
    return {
        "pass@1": pass1,
        "pass@1_stderr": stderr,
        "pass@k": M.pass_at_k_curve(counts, n),
        "maj@k": maj_curve(bench, records, n, timeout_s=timeout_s),
        "truncated_rate": M.truncation_rate(s.get("finish_reason") for s in samples),
        "no_answer_rate": M.no_answer_rate(s.get("extracted") for s in samples),
        "mean_tokens": M.mean_tokens(tokens) if tokens else None,  # None: the backend reported no counts
    }


def ungraded_problems(records: list[dict]) -> list[str]:
    """Ids of problems whose gold answer could not be parsed (every verdict None)."""
    return [r["id"] for r in records if r["samples"] and all(s.get("correct") is None for s in r["samples"])]
