"""Clipped policy-gradient loss (PPO/GRPO/DAPO/Dr. GRPO/GSPO) with an optional KL term.

Notation: ``B`` sequences, ``T`` padded completion positions, ``m[B, T]`` the token mask (1 on
completion tokens that count), ``A[B]`` one advantage per sequence broadcast to its tokens, or
``A[B, T]`` one per token (PPO with a critic: GAE).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from r1cli.errors import did_you_mean, one_of
from r1cli.rl.aggregation import aggregate, check_agg, masked_mean
from r1cli.rl.kl import check_kl, kl_estimate

if TYPE_CHECKING:
    import torch

LEVELS = ("token", "sequence")
"""Names accepted by ``policy_loss(level=...)``; ``"sequence"`` is GSPO."""

LOG_RATIO_CLAMP = 20.0


def _validate(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    ref_logp: torch.Tensor | None,
    clip_low: float,
    clip_high: float,
    dual_clip: float | None,
    level: str,
    beta: float,
    kl: str,
    agg: str,
) -> None:
    if level not in LEVELS:
        raise ValueError(f"unknown ratio level {level!r}{did_you_mean(level, LEVELS)}; use {one_of(LEVELS)}")
    check_agg(agg)
    check_kl(kl)
    if logp.dim() != 2:
        raise ValueError(f"logp must be [B, T], got shape {tuple(logp.shape)}")
    for name, x in (("old_logp", old_logp), ("mask", mask)) + (
        (("ref_logp", ref_logp),) if ref_logp is not None else ()
    ):
        if x.shape != logp.shape:
            raise ValueError(f"{name} must have the shape of logp {tuple(logp.shape)}, got {tuple(x.shape)}")
    if advantages.shape not in (logp.shape[:1], logp.shape):
        raise ValueError(f"advantages must be [B] = [{logp.shape[0]}] or [B, T] = {list(logp.shape)}, got shape "
                         f"{tuple(advantages.shape)}")
    if not 0 <= clip_low < 1:
        raise ValueError(f"clip_low must be in [0, 1), got {clip_low!r}")
    if not clip_high >= 0:
        raise ValueError(f"clip_high must be >= 0, got {clip_high!r}")
    if dual_clip is not None and not dual_clip > 1:
        raise ValueError(f"dual_clip must be > 1 (typical 3.0), got {dual_clip!r}")
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta!r}")
    if beta > 0 and ref_logp is None:
        raise ValueError(f"beta={beta} > 0 needs ref_logp (reference-model log-probs)")


def policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    dual_clip: float | None = None,
    level: str = "token",
    ref_logp: torch.Tensor | None = None,
    beta: float = 0.0,
    kl: str = "k3",
    agg: str = "token-mean",
    norm_len: float | None = None,
    tokens_in_step: float | None = None,
    seqs_in_step: float | None = None,
    is_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Clipped surrogate loss plus ``β·agg(KL)`` for one micro-batch of an optimizer step.

    Args:
        logp: ``[B, T]`` current-policy log-probs of the sampled tokens (carries the gradient).
        old_logp: ``[B, T]`` behaviour-policy log-probs (detached; equal to ``logp.detach()`` when the
            rollout is used for a single update).
        advantages: ``[B]``, one per sequence, or ``[B, T]``, one per token (PPO's GAE).
        mask: ``[B, T]`` 0/1 or bool; positions outside it may hold any value, NaN included.
        clip_low / clip_high: ``ε_low`` / ``ε_high``; DAPO's clip-higher is 0.2 / 0.28.
        dual_clip: ``c > 1``; for ``A < 0`` the per-token loss is capped: ``ℓ = min(ℓ, −c·A)``.
        level: ``"token"`` (PPO/GRPO) or ``"sequence"`` (GSPO).
        ref_logp, beta, kl: reference log-probs ``[B, T]``, coefficient ``β`` and estimator
            (``k1``/``k2``/``k3``, see :mod:`r1cli.rl.kl`); the term ``β·agg(k)`` is added when
            ``β > 0``. With ``ref_logp`` given and ``β = 0`` the KL is only reported in ``stats``.
        agg, norm_len, tokens_in_step, seqs_in_step: see :func:`r1cli.rl.aggregation.aggregate`;
            pass the normalisers of the whole optimizer step when it spans several micro-batches or
            ranks, so that the sum of the micro-batch losses is the step objective.
        is_weights: optional detached ``[B, T]`` multipliers of the per-token policy loss (truncated
            importance sampling for rollout/trainer mismatch, see :mod:`r1cli.rl.importance`); the
            KL term is not weighted. An extension beyond the issue's contract; ``None`` changes nothing.

    Formulas, per token (``m`` = 1):
        ``log ρ = clamp(logp − old_logp, −20, 20)``; token level ``ρ_{i,t} = exp(log ρ_{i,t})``;
        sequence level ``ρ_{i,t} = s_i = exp(Σ_t m·log ρ_{i,t} / L_i)`` for every token of ``i``
        (GSPO; its gradient reaches every token through the mean).
        ``ℓ = −min(ρ·A, clip(ρ, 1 − ε_low, 1 + ε_high)·A)``, then ``ℓ = min(ℓ, −c·A)`` where ``A < 0``
        and ``dual_clip = c``; ``ℓ ← w·ℓ`` with ``is_weights``. ``loss = agg(ℓ) + β·agg(k)``.

    Returns:
        ``(loss, stats)``: ``loss`` a 0-dim tensor; ``stats`` python floats, all means taken over the
        masked tokens of *this call* (0.0 when it has none):

        - ``clip_frac_low``: fraction of tokens with ``A < 0`` and ``ρ < 1 − ε_low`` — the lower clip
          is the active branch of the min there (the token's gradient is zero);
        - ``clip_frac_high``: fraction with ``A > 0`` and ``ρ > 1 + ε_high`` (upper clip active);
        - ``clip_frac_dual``: fraction with ``A < 0`` and ``ρ > c`` (dual clip active; 0 without it);
        - ``ratio_mean``, ``ratio_max``: of ``ρ`` (``s_i`` repeated on each token at sequence level);
        - ``kl_mean``: mean of the chosen estimator (0.0 without ``ref_logp``);
        - ``policy_loss``, ``kl_loss``: the two terms of ``loss`` (``kl_loss`` already times ``β``);
        - ``num_tokens``, ``num_seqs``: masked tokens and rows of this call, to weight the stats
          when averaging over micro-batches.
    """
    import torch

    advantages = torch.as_tensor(advantages, device=logp.device)
    _validate(
        logp, old_logp, advantages, mask, ref_logp, clip_low, clip_high, dual_clip, level, beta, kl, agg
    )

    m = mask.bool()  # [B, T]
    zero = torch.zeros((), dtype=logp.dtype, device=logp.device)
    # Sanitise padding first: no NaN/inf can leak into values or gradients from masked positions.
    lp = torch.where(m, logp, zero)  # [B, T]
    old = torch.where(m, old_logp.detach().to(logp.dtype), zero)  # [B, T]
    adv = advantages.detach().to(logp.dtype)
    adv = adv.unsqueeze(1) if adv.dim() == 1 else torch.where(m, adv, zero)  # [B, 1] or [B, T]

    log_ratio = torch.clamp(lp - old, -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)  # [B, T]
    if level == "sequence":
        lengths = m.sum(dim=1, keepdim=True).clamp(min=1).to(logp.dtype)  # [B, 1]
        seq_log_ratio = (log_ratio * m).sum(dim=1, keepdim=True) / lengths  # [B, 1]
        ratio = torch.exp(seq_log_ratio).expand_as(log_ratio)  # [B, T], s_i on each token
    else:
        ratio = torch.exp(log_ratio)  # [B, T]

    surr_unclipped = ratio * adv  # [B, T]
    surr_clipped = torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high) * adv  # [B, T]
    per_token = -torch.minimum(surr_unclipped, surr_clipped)  # [B, T]
    neg = (adv < 0).expand_as(per_token)  # [B, T]
    if dual_clip is not None:
        per_token = torch.where(neg, torch.minimum(per_token, -dual_clip * adv), per_token)
    if is_weights is not None:
        if is_weights.shape != logp.shape:
            raise ValueError(
                f"is_weights must have the shape of logp {tuple(logp.shape)}, got {tuple(is_weights.shape)}"
            )
        per_token = per_token * torch.where(m, is_weights.detach().to(logp.dtype), zero)  # [B, T]

    pg_loss = aggregate(
        per_token, m, agg, norm_len=norm_len, tokens_in_step=tokens_in_step, seqs_in_step=seqs_in_step
    )
    loss = pg_loss

    kl_mean = 0.0
    kl_loss_value = 0.0
    if ref_logp is not None:
        ref = torch.where(m, ref_logp.detach().to(logp.dtype), zero)  # [B, T]
        k = kl_estimate(lp, ref, kl)  # [B, T]
        kl_mean = float(masked_mean(k.detach(), m))
        if beta > 0:
            kl_term = beta * aggregate(
                k, m, agg, norm_len=norm_len, tokens_in_step=tokens_in_step, seqs_in_step=seqs_in_step
            )
            loss = loss + kl_term
            kl_loss_value = float(kl_term.detach())

    with torch.no_grad():
        r = ratio.detach()
        pos = (adv > 0).expand_as(r)
        low = m & neg & (r < 1.0 - clip_low)
        high = m & pos & (r > 1.0 + clip_high)
        dual = m & neg & (r > dual_clip) if dual_clip is not None else torch.zeros_like(m)
        n_tok = int(m.sum())
        denom = max(n_tok, 1)
        stats = {
            "clip_frac_low": int(low.sum()) / denom,
            "clip_frac_high": int(high.sum()) / denom,
            "clip_frac_dual": int(dual.sum()) / denom,
            "ratio_mean": float(masked_mean(r, m)),
            "ratio_max": float(r[m].max()) if n_tok else 0.0,
            "kl_mean": kl_mean,
            "policy_loss": float(pg_loss.detach()),
            "kl_loss": kl_loss_value,
            "num_tokens": float(n_tok),
            "num_seqs": float(m.shape[0]),
        }
    return loss, stats
