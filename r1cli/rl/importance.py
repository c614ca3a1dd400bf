"""Train–inference mismatch correction: truncated / masked importance sampling (TIS / MIS).

Even with identical weights a rollout engine (vLLM) and the trainer assign slightly different
probabilities to the sampled tokens. With ``log ρ_t = old_logp_t − rollout_logp_t`` (trainer's
behaviour policy over the engine's, both log-probs of the sampled token after temperature):

- ``level="token"``: ``ρ_t = exp(log ρ_t)`` per token;
- ``level="sequence"``: ``ρ_i = exp(Σ_t m·log ρ_t)`` for every token of sequence ``i``;
- ``mode="truncate"``: ``w = min(ρ, threshold)`` (then ``max(·, threshold_low)`` when given);
- ``mode="mask"``: ``w = ρ`` inside ``[threshold_low or 0, threshold]``, else 0 (MIS / IcePop).

The weights are detached and multiply the per-token policy loss (``policy_loss(is_weights=...)``).
Log-ratios are clamped to ``[−20, 20]`` before ``exp``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from r1cli.errors import did_you_mean, one_of

if TYPE_CHECKING:
    import torch

IS_LEVELS = ("token", "sequence")
IS_MODES = ("truncate", "mask")


def importance_weights(
    old_logp: torch.Tensor,
    rollout_logp: torch.Tensor,
    mask: torch.Tensor,
    *,
    level: str = "token",
    mode: str = "truncate",
    threshold: float = 2.0,
    threshold_low: float | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Detached importance weights ``[B, T]`` (0 on padding) and their statistics.

    Args:
        old_logp: ``[B, T]`` trainer log-probs of the sampled tokens under the behaviour policy.
        rollout_logp: ``[B, T]`` the rollout engine's log-probs of the same tokens.
        mask: ``[B, T]`` completion-token mask.
        level, mode, threshold, threshold_low: see the module docstring.

    Returns:
        ``(weights, stats)``; stats (over masked tokens of this call): ``is_weight_mean``,
        ``is_clipped_frac`` (tokens whose weight was truncated or masked), ``logp_gap_mean``
        (mean ``|old_logp − rollout_logp|``, which also exposes stale rollout weights) and
        ``logp_gap_max``.
    """
    import torch

    if level not in IS_LEVELS:
        raise ValueError(
            f"unknown IS level {level!r}{did_you_mean(level, IS_LEVELS)}; use {one_of(IS_LEVELS)}"
        )
    if mode not in IS_MODES:
        raise ValueError(f"unknown IS mode {mode!r}{did_you_mean(mode, IS_MODES)}; use {one_of(IS_MODES)}")
    if not threshold > 0:
        raise ValueError(f"IS threshold must be > 0, got {threshold!r}")
    if threshold_low is not None and not 0 <= threshold_low < threshold:
        raise ValueError(f"IS threshold_low must be in [0, threshold={threshold}), got {threshold_low!r}")
    if old_logp.dim() != 2 or rollout_logp.shape != old_logp.shape or mask.shape != old_logp.shape:
        raise ValueError(
            f"old_logp, rollout_logp and mask must share one [B, T] shape, got {tuple(old_logp.shape)}, "
            f"{tuple(rollout_logp.shape)}, {tuple(mask.shape)}"
        )
    with torch.no_grad():
        m = mask.bool()
        zero = torch.zeros((), dtype=old_logp.dtype, device=old_logp.device)
        diff = torch.where(m, old_logp - rollout_logp.to(old_logp.dtype), zero)  # [B, T]
        if level == "sequence":
            log_rho = diff.sum(dim=1, keepdim=True).clamp(-20.0, 20.0).expand_as(diff)  # [B, T]
        else:
            log_rho = diff.clamp(-20.0, 20.0)
        rho = torch.exp(log_rho)  # [B, T]
        low = threshold_low if threshold_low is not None else 0.0
        outside = (rho > threshold) | (rho < low)  # [B, T]
        if mode == "truncate":
            w = rho.clamp(max=threshold)
            if threshold_low is not None:
                w = w.clamp(min=threshold_low)
        else:
            w = torch.where(outside, torch.zeros_like(rho), rho)
        w = torch.where(m, w, zero)
        n_tok = int(m.sum())
        denom = max(n_tok, 1)
        gap = diff.abs()
        stats = {
            "is_weight_mean": float(w.sum()) / denom,
            "is_clipped_frac": int((outside & m).sum()) / denom,
            "logp_gap_mean": float(gap.sum()) / denom,
            "logp_gap_max": float(gap.max()) if n_tok else 0.0,
        }
    return w, stats
