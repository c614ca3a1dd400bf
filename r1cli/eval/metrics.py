"""Benchmark metrics as pure functions: pass@1 (mean@n) with its standard error, unbiased pass@k,
majority vote (maj@k / cons@k) and simple sample statistics.

No I/O, no config, no math-verify import: the caller passes the equivalence and correctness
callables (e.g. built on :mod:`math_verify`), so these functions stay pure and testable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021) for one problem: ``1 − C(n−c, k) / C(n, k)``.

    ``n`` samples, ``c`` of them correct. Computed as ``1 − ∏_{i=n−c+1}^{n} (1 − k/i)`` (no
    binomials, so no overflow for large ``n``); exactly 1.0 when ``n − c < k`` (every k-subset holds a
    correct sample) and exactly 0.0 when ``c = 0``.

    Raises:
        ValueError: ``n < 1``, ``c`` outside ``[0, n]``, ``k < 1`` or ``k > n``.
    """
    _check_int("n", n, 1)
    _check_int("c", c, 0)
    _check_int("k", k, 1)
    if c > n:
        raise ValueError(f"c (correct samples, {c}) cannot exceed n (samples, {n})")
    if k > n:
        raise ValueError(f"pass@{k} needs at least k={k} samples per problem, got n={n}")
    if n - c < k:
        return 1.0
    if c == 0:
        return 0.0
    # C(n−c, k)/C(n, k) = ∏_{i=n−c+1}^{n} (1 − k/i); sum of logs keeps it accurate for long products.
    log_fail = math.fsum(math.log1p(-k / i) for i in range(n - c + 1, n + 1))
    return -math.expm1(log_fail)


def _check_counts(correct_counts: Sequence[int], n: int) -> list[int]:
    _check_int("n", n, 1)
    counts = list(correct_counts)
    if not counts:
        raise ValueError("no problems: correct_counts is empty")
    for i, c in enumerate(counts):
        if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c <= n:
            raise ValueError(f"correct_counts[{i}] = {c!r} is not an integer in [0, n={n}]")
    return counts


def pass_at_1_with_stderr(correct_counts: Sequence[int], n: int) -> tuple[float, float | None]:
    """pass@1 as R1 reports it (mean@n): the mean over problems of ``c_p / n``, and its standard error.

    The standard error is that of the mean of the per-problem scores ``x_p = c_p / n`` across the ``P``
    problems: ``s / sqrt(P)`` with ``s`` the sample standard deviation (``P − 1``) of the ``x_p``. It
    reflects problem-to-problem spread (plus sampling noise within problems); it is ``None`` when
    ``P = 1`` (undefined — serialised as JSON ``null``, never a misleading 0).
    """
    counts = _check_counts(correct_counts, n)
    scores = [c / n for c in counts]
    p = len(scores)
    mean = math.fsum(scores) / p
    if p < 2:
        return mean, None
    var = math.fsum((x - mean) ** 2 for x in scores) / (p - 1)
    return mean, math.sqrt(var) / math.sqrt(p)


def curve_ks(n: int) -> list[int]:
    """The k values of a pass@k / maj@k curve: 1, 2, 4, … ≤ n, plus n itself when n is not a
    power of two (pass@n is the coverage: the share of problems with at least one correct sample)."""
    _check_int("n", n, 1)
    ks = []
    k = 1
    while k <= n:
        ks.append(k)
        k *= 2
    if ks[-1] != n:
        ks.append(n)
    return ks


def pass_at_k_curve(correct_counts: Sequence[int], n: int) -> dict[str, float]:
    """Mean over problems of unbiased pass@k for every k of :func:`curve_ks` → ``{"1": …, "2": …}``."""
    counts = _check_counts(correct_counts, n)
    return {str(k): math.fsum(pass_at_k(n, c, k) for c in counts) / len(counts) for k in curve_ks(n)}


Equivalent = Callable[[str, str], bool]


def _cluster_ids(answers: Sequence[str | None], equivalent: Equivalent) -> list[int | None]:
    """Cluster id of each answer (``None`` for no vote), assigned in order.

    An answer joins the earliest cluster whose *first member* it is equivalent to, called as
    ``equivalent(first_member, answer)`` (math-verify's ``verify`` is asymmetric and not transitive;
    comparing with the first member only keeps the result order-defined). Because clusters are built
    in sample order, the clustering of the first k answers is a prefix of this one.
    """
    reps: list[str] = []
    ids: list[int | None] = []
    for ans in answers:
        if ans is None:
            ids.append(None)
            continue
        for cid, rep in enumerate(reps):
            if equivalent(rep, ans):
                ids.append(cid)
                break
        else:
            reps.append(ans)
            ids.append(len(reps) - 1)
    return ids


def _winner(ids: Sequence[int | None]) -> int | None:
    """Largest cluster among ``ids``; ties go to the smallest id (earliest first member)."""
    sizes: dict[int, int] = {}
    for cid in ids:
        if cid is not None:
            sizes[cid] = sizes.get(cid, 0) + 1
    if not sizes:
        return None
    best = max(sizes.values())
    return min(cid for cid, size in sizes.items() if size == best)


def majority_vote(answers: Sequence[str | None], equivalent: Equivalent) -> str | None:
    """The answer of the largest equivalence cluster, or ``None`` when no sample voted.

    Rules: ``None`` (unparsed) samples do not vote; clusters are formed as in ``_cluster_ids``
    (each answer joins the earliest cluster whose first member is equivalent to it); a tie goes to
    the cluster whose first member came earliest; the returned string is that first member.
    """
    answers = list(answers)
    ids = _cluster_ids(answers, equivalent)
    cid = _winner(ids)
    return None if cid is None else answers[ids.index(cid)]


def maj_at_k_curve(
    answers_per_problem: Sequence[Sequence[str | None]],
    gold_correct: Callable[[int, str], bool],
    equivalent: Equivalent,
    ks: Iterable[int] | None = None,
) -> dict[str, float]:
    """maj@k for several k at once → ``{"1": …, "4": …}``, clustering each problem only once.

    Args:
        answers_per_problem: per problem, the extracted answers of its samples in sample order
            (``None`` = unparsed); only the first k take part in maj@k.
        gold_correct: ``gold_correct(problem_index, answer) -> bool``, called once per problem and k
            with the winning cluster's first member (the caller closes over the gold answers).
        equivalent: ``equivalent(a, b) -> bool``, see :func:`majority_vote`.
        ks: defaults to :func:`curve_ks` of the smallest sample count.

    A problem with no vote among its first k samples scores 0. Returns the mean over problems.

    Raises:
        ValueError: no problems, ``k < 1``, or a problem with fewer than ``k`` samples (never a
            silently lower score).
    """
    problems = [list(a) for a in answers_per_problem]
    if not problems:
        raise ValueError("no problems: answers_per_problem is empty")
    smallest = min(len(a) for a in problems)
    ks = curve_ks(smallest) if ks is None else [_check_int("k", k, 1) for k in ks]
    for p, ans in enumerate(problems):
        if ks and len(ans) < max(ks):
            raise ValueError(f"problem {p} has {len(ans)} samples, fewer than k={max(ks)} for maj@k")
    totals = {k: 0.0 for k in ks}
    for p, ans in enumerate(problems):
        ids = _cluster_ids(ans, equivalent)
        verdicts: dict[int, bool] = {}
        for k in ks:
            cid = _winner(ids[:k])
            if cid is None:
                continue
            if cid not in verdicts:
                verdicts[cid] = bool(gold_correct(p, ans[ids.index(cid)]))
            totals[k] += 1.0 if verdicts[cid] else 0.0
    return {str(k): totals[k] / len(problems) for k in ks}


def maj_at_k(
    answers_per_problem: Sequence[Sequence[str | None]],
    gold_correct: Callable[[int, str], bool],
    k: int,
    equivalent: Equivalent,
) -> float:
    """maj@k (cons@k): mean over problems of whether the majority answer of the first ``k`` samples is
    correct; see :func:`maj_at_k_curve` for the arguments and rules (no votes → 0 for that problem)."""
    _check_int("k", k, 1)
    return maj_at_k_curve(answers_per_problem, gold_correct, equivalent, ks=[k])[str(k)]


def _nonempty(name: str, values: Iterable) -> list:
    items = list(values)
    if not items:
        raise ValueError(f"{name}: no samples")
    return items


def truncation_rate(finish_reasons: Iterable[str | None]) -> float:
    """Share of samples whose ``finish_reason`` is ``"length"`` (hit ``max_new_tokens``)."""
    items = _nonempty("truncation_rate", finish_reasons)
    return sum(1 for r in items if r == "length") / len(items)


def no_answer_rate(answers: Iterable[str | None]) -> float:
    """Share of samples with no extracted answer (``None``)."""
    items = _nonempty("no_answer_rate", answers)
    return sum(1 for a in items if a is None) / len(items)


def mean_tokens(num_tokens: Iterable[int]) -> float:
    """Mean completion length in tokens."""
    items = _nonempty("mean_tokens", num_tokens)
    return math.fsum(items) / len(items)
