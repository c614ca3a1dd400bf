"""Outcome-level advantage estimators for group-sampled RL (GRPO and relatives).

Every estimator maps one scalar reward per completion to one scalar advantage per completion; the
trainer broadcasts it to every token of that completion. Rewards are ordered group by group: the
``group_size`` completions of prompt 0 first, then those of prompt 1, and so on.

Pure functions: no I/O, no config, no globals. torch is imported inside the functions so that
importing :mod:`r1cli.rl` stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from r1cli.errors import did_you_mean, one_of

if TYPE_CHECKING:
    import torch

ESTIMATORS = ("grpo", "rloo", "reinforce++-baseline", "reinforce", "reinforce-batch", "reinforce-ema")
"""Names accepted by ``group_advantages(estimator=...)``."""

SCALES = ("group", "batch", "none")
"""Names accepted by ``group_advantages(scale=...)`` (only meaningful for ``grpo``)."""


def _sample_std(x: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Sample standard deviation (n − 1); 0 where fewer than two values exist (never NaN)."""
    import torch

    n = x.numel() if dim is None else x.shape[dim]
    if n < 2:
        return torch.zeros(()) if dim is None else torch.zeros(x.shape[:dim] + x.shape[dim + 1 :])
    return x.std(correction=1) if dim is None else x.std(dim=dim, correction=1)


def _divide(centered: torch.Tensor, std: torch.Tensor, constant: torch.Tensor, eps: float) -> torch.Tensor:
    """``centered / (std + eps)``, but exactly 0 wherever ``constant`` is True (all rewards equal)."""
    import torch

    denom = std + eps
    safe = torch.where(constant | (denom <= 0), torch.ones_like(denom), denom)
    return torch.where(constant, torch.zeros_like(centered), centered / safe)


def group_advantages(
    rewards: torch.Tensor | Sequence[float],
    group_size: int,
    *,
    estimator: str = "grpo",
    scale: str = "group",
    eps: float = 1e-6,
    baseline: float | None = None,
) -> torch.Tensor:
    """Group-relative (or, for the REINFORCE family, batch-level) advantages, one per completion.

    Args:
        rewards: ``[N]`` scalar rewards, ordered group by group (``N = P · G``, ``G = group_size``).
            A tensor (its floating dtype is kept; integer/bool become float32) or a sequence of floats.
        group_size: ``G``, the number of completions per prompt.
        estimator:
            - ``"grpo"``: ``A_i = (R_i − mean_g) / (std_g + eps)``, ``std_g`` the sample std (n − 1)
              of the group; ``scale="batch"`` divides by the sample std of *all N rewards* instead
              (group mean, batch std: "Lite PPO"); ``scale="none"`` gives ``R_i − mean_g``
              (Dr. GRPO).
            - ``"rloo"``: ``A_i = R_i − (1/(G−1)) Σ_{j≠i} R_j`` (leave-one-out baseline,
              equal to ``G/(G−1) · (R_i − mean_g)``). Needs ``G ≥ 2``.
            - ``"reinforce++-baseline"``: ``a_i = R_i − mean_g``, then whitened over the batch:
              ``A_i = (a_i − mean(a)) / (std(a) + eps)`` with the sample std over all N completions
              (per completion, not per token as verl does with token-broadcast scores).
            - ``"reinforce"``: ``A_i = R_i`` (plain REINFORCE: the return is the advantage).
            - ``"reinforce-batch"``: ``A_i = R_i − mean(R)`` over the whole batch.
            - ``"reinforce-ema"``: ``A_i = R_i − b`` with ``b = baseline``, a moving average of past
              batch means kept by the caller (:func:`ema_baseline`); ``baseline=None`` (the first
              step, no history yet) uses this batch's mean.
        scale: ``"group"`` (default), ``"batch"`` or ``"none"``; only ``grpo`` has a std scale, so
            other estimators reject anything but the default.
        eps: added to the std in the denominator.
        baseline: the moving-average baseline of ``"reinforce-ema"`` (ignored by the others).

    Returns:
        ``[N]`` advantages, same dtype as ``rewards`` (float32 for non-float input).

    Edge cases (documented behaviour, relied on by the trainer):
        - A group (or, for ``scale="batch"``/whitening, a batch) whose rewards are all equal gets
          advantage exactly 0 — no NaN and no ``0/eps`` noise; this is DAPO's "zero-variance group".
        - ``group_size == 1``: the group mean is the reward itself, so ``grpo`` (any scale) and
          ``reinforce++-baseline`` return all zeros (a group of one carries no relative signal;
          the undefined std of one value is never divided by). ``rloo`` raises ``ValueError``:
          its leave-one-out baseline over ``G − 1 = 0`` others does not exist.
        - ``N == 0`` returns an empty tensor.

    Raises:
        ValueError: unknown estimator/scale, ``group_size < 1``, ``N`` not divisible by
            ``group_size``, rewards not 1-D, non-finite rewards, negative ``eps``.
    """
    import torch

    if estimator not in ESTIMATORS:
        raise ValueError(
            f"unknown advantage estimator {estimator!r}{did_you_mean(estimator, ESTIMATORS)}; "
            f"use {one_of(ESTIMATORS)}"
        )
    if scale not in SCALES:
        raise ValueError(
            f"unknown advantage scale {scale!r}{did_you_mean(scale, SCALES)}; use {one_of(SCALES)}"
        )
    if estimator != "grpo" and scale != "group":
        raise ValueError(
            f"scale={scale!r} only applies to estimator='grpo'; {estimator} has no std scale "
            "(leave scale at its default 'group')"
        )
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
        raise ValueError(f"group_size must be a positive integer, got {group_size!r}")
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps!r}")

    r = torch.as_tensor(rewards)
    if not r.is_floating_point():
        r = r.to(torch.float32)
    if r.dim() != 1:
        raise ValueError(f"rewards must be a 1-D tensor [N], got shape {tuple(r.shape)}")
    n = r.shape[0]
    if n % group_size != 0:
        raise ValueError(
            f"number of rewards ({n}) is not divisible by group_size ({group_size}); "
            "rewards must hold whole groups, ordered group by group"
        )
    if n == 0:
        return r.clone()
    if not torch.isfinite(r).all():
        raise ValueError(
            "rewards contain NaN or inf; drop unjudgeable samples (None rewards) before this call"
        )
    if estimator == "rloo" and group_size < 2:
        raise ValueError(
            "estimator='rloo' needs group_size >= 2 (the leave-one-out baseline averages G - 1 others)"
        )

    if estimator == "reinforce":
        return r.clone()
    if estimator in ("reinforce-batch", "reinforce-ema"):
        b = r.mean() if estimator == "reinforce-batch" or baseline is None else torch.as_tensor(baseline, dtype=r.dtype)
        return r - b.to(r.device)

    g = r.view(-1, group_size)  # [P, G]
    mean_g = g.mean(dim=1, keepdim=True)  # [P, 1]
    centered = g - mean_g  # [P, G]
    group_constant = (g.amax(dim=1, keepdim=True) == g.amin(dim=1, keepdim=True)).expand_as(g)  # [P, G]
    # Exact zeros for constant groups, whatever rounding the mean suffered.
    centered = torch.where(group_constant, torch.zeros_like(centered), centered)

    if estimator == "grpo":
        if scale == "none":
            adv = centered
        elif scale == "group":
            std_g = _sample_std(g, dim=1).to(r.dtype).unsqueeze(1)  # [P, 1]
            adv = _divide(centered, std_g.expand_as(g), group_constant, eps)
        else:  # batch
            batch_constant = bool(r.max() == r.min())
            std_b = _sample_std(r).to(r.dtype)  # []
            const = group_constant | batch_constant
            adv = _divide(centered, std_b.expand_as(g), const, eps)
    elif estimator == "rloo":
        total = g.sum(dim=1, keepdim=True)  # [P, 1]
        adv = g - (total - g) / (group_size - 1)  # [P, G]
        adv = torch.where(group_constant, torch.zeros_like(adv), adv)
    else:  # reinforce++-baseline
        a = centered.reshape(-1)  # [N]
        a_centered = a - a.mean()
        all_zero = bool((a == 0).all())
        std_a = _sample_std(a).to(r.dtype)
        const = torch.full_like(a, all_zero, dtype=torch.bool)
        adv = _divide(a_centered, std_a.expand_as(a), const, eps)
    return adv.reshape(-1)


def ema_baseline(previous: float | None, rewards: torch.Tensor | Sequence[float], decay: float = 0.9) -> float:
    """The next moving-average baseline: ``decay · previous + (1 − decay) · mean(rewards)``; the batch
    mean itself when there is no previous value. Called after the advantages of a step are computed."""
    import torch

    if not 0.0 <= decay < 1.0:
        raise ValueError(f"baseline decay must be in [0, 1), got {decay}")
    r = torch.as_tensor(rewards, dtype=torch.float64)
    if r.numel() == 0:
        return previous if previous is not None else 0.0
    mean = float(r.mean())
    return mean if previous is None else decay * float(previous) + (1.0 - decay) * mean
