"""Masked reductions and loss aggregation over one optimizer step.

An optimizer step may span several micro-batches (gradient accumulation) and several data-parallel
ranks. The aggregation normalisers are therefore those of the *whole step* and are passed in; each
micro-batch returns its partial sum already divided by them, so summing the micro-batch losses (and
all-reducing gradients by *sum*, or by mean with the normaliser summed over ranks and multiplied by
the world size — the trainer's business) gives exactly the full-batch objective. When a normaliser
is not given, the value of this call is used (right for a single micro-batch on one rank).

Notation: ``ℓ[B, T]`` per-token values, ``m[B, T]`` the 0/1 token mask, ``L_i = Σ_t m[i, t]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from r1cli.errors import did_you_mean, one_of

if TYPE_CHECKING:
    import torch

AGGREGATIONS = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm")
"""Names accepted by ``aggregate(agg=...)`` and ``policy_loss(agg=...)``."""


def check_agg(agg: str) -> None:
    """Raise ``ValueError`` naming the valid modes when ``agg`` is unknown."""
    if agg not in AGGREGATIONS:
        raise ValueError(
            f"unknown loss aggregation {agg!r}{did_you_mean(agg, AGGREGATIONS)}; use {one_of(AGGREGATIONS)}"
        )


def masked_sum(values: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """``Σ m·x`` over ``dim`` (all elements when ``None``); masked-out entries may hold NaN/inf.

    Shapes: ``values`` and ``mask`` broadcastable to each other (typically both ``[B, T]``).
    """
    import torch

    m = mask.bool()
    picked = torch.where(m, values, torch.zeros((), dtype=values.dtype, device=values.device))
    return picked.sum() if dim is None else picked.sum(dim=dim)


def masked_mean(values: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """``Σ m·x / Σ m`` over ``dim``; 0 where the mask is empty (never NaN)."""
    count = mask.bool().sum() if dim is None else mask.bool().sum(dim=dim)
    total = masked_sum(values, mask, dim)
    return total / count.clamp(min=1).to(total.dtype)


def _positive(name: str, value: float | int | None) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"{name} must be > 0 when given, got {value!r}")


def aggregate(
    values: torch.Tensor,
    mask: torch.Tensor,
    agg: str = "token-mean",
    *,
    norm_len: float | None = None,
    tokens_in_step: float | None = None,
    seqs_in_step: float | None = None,
) -> torch.Tensor:
    """Reduce per-token values ``[B, T]`` to a scalar with step-level normalisers.

    - ``"token-mean"`` (DAPO): ``Σ_{i,t} m·ℓ / tokens_in_step``; default ``tokens_in_step = Σ m``
      of this call (an all-masked call then gives 0).
    - ``"seq-mean-token-mean"`` (original GRPO): ``Σ_i (Σ_t m·ℓ / L_i) / seqs_in_step``; a sequence
      with ``L_i = 0`` contributes 0 but still counts in the default ``seqs_in_step = B``.
    - ``"seq-mean-token-sum-norm"`` (Dr. GRPO): ``Σ_{i,t} m·ℓ / (seqs_in_step · norm_len)``; defaults
      ``seqs_in_step = B`` and ``norm_len = T`` (this call's padded width). Pass the constant
      ``max_new_tokens`` as ``norm_len`` in training: the padded width changes between micro-batches.

    Normalisers that the chosen mode does not use are ignored (the trainer may always pass all three).

    Returns:
        a 0-dim tensor.
    """
    check_agg(agg)
    for name, v in (
        ("norm_len", norm_len),
        ("tokens_in_step", tokens_in_step),
        ("seqs_in_step", seqs_in_step),
    ):
        _positive(name, v)
    if values.dim() != 2 or mask.shape != values.shape:
        raise ValueError(
            f"aggregate expects values and mask of the same shape [B, T], got {tuple(values.shape)} "
            f"and {tuple(mask.shape)}"
        )
    b, t = values.shape
    m = mask.bool()
    if agg == "token-mean":
        denom = float(tokens_in_step) if tokens_in_step is not None else max(int(m.sum()), 1)
        return masked_sum(values, m) / denom
    if agg == "seq-mean-token-mean":
        lengths = m.sum(dim=1).clamp(min=1).to(values.dtype)  # [B]
        per_seq = masked_sum(values, m, dim=1) / lengths  # [B]
        denom = float(seqs_in_step) if seqs_in_step is not None else max(b, 1)
        return per_seq.sum() / denom
    # seq-mean-token-sum-norm
    seqs = float(seqs_in_step) if seqs_in_step is not None else max(b, 1)
    length = float(norm_len) if norm_len is not None else max(t, 1)
    return masked_sum(values, m) / (seqs * length)
