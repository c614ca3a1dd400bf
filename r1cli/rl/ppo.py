"""PPO's token-level pieces: per-token rewards, GAE(γ, λ) advantages and returns, the clipped value loss.

Shapes: ``[N, T]`` for N completions of T token positions (right-padded), with ``mask`` 1 on the
completion tokens that count. Pure functions: no I/O, no config; torch is imported inside them.

Conventions (the ones Open-Reasoner-Zero, verl and OpenRLHF use for outcome-reward RL):

- the outcome reward of a completion sits on its last valid token; an optional per-token penalty
  (``β · KL_t``, KL as a reward) is subtracted at every valid token (:func:`token_rewards`);
- ``V_t`` is the critic's value of the state in which token t is generated (the prompt and the tokens
  before t), read at the position that predicts token t; after the last valid token the episode ends,
  so the next value there is 0;
- positions where ``mask`` is 0 are skipped: their advantage and return are 0 and the recursion
  links each valid token to the next valid one (holes, e.g. tool output, are stepped over).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def _check(name: str, x: torch.Tensor, shape: tuple[int, ...]) -> None:
    if tuple(x.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(x.shape)}")


def token_rewards(
    outcome: torch.Tensor, mask: torch.Tensor, kl: torch.Tensor | None = None, beta: float = 0.0
) -> torch.Tensor:
    """``[N, T]`` per-token rewards: ``outcome[i]`` on row i's last valid token, minus ``beta · kl``
    on every valid token (KL as a reward penalty). A row with no valid token gets all zeros."""
    import torch

    mask = mask.to(torch.bool)
    n, t = mask.shape
    _check("outcome", outcome, (n,))
    out = torch.zeros((n, t), dtype=torch.float32 if not outcome.is_floating_point() else outcome.dtype,
                      device=mask.device)
    positions = torch.arange(t, device=mask.device).expand(n, t)
    last = torch.where(mask, positions, torch.full_like(positions, -1)).amax(dim=1)  # [N]
    rows = torch.nonzero(last >= 0).squeeze(1)
    out[rows, last[rows]] = outcome[rows].to(out.dtype)
    if kl is not None and beta:
        _check("kl", kl, (n, t))
        out = out - beta * kl.to(out.dtype) * mask.to(out.dtype)
    return out


def gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0, lam: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over tokens: ``(advantages, returns)``, both ``[N, T]``.

    ``δ_t = r_t + γ·V_{t'} − V_t`` with t' the next valid token (``V = 0`` past the last one) and
    ``A_t = δ_t + γ·λ·A_{t'}``; ``returns = A + V`` on valid tokens. λ = 0 gives one-step TD errors,
    λ = 1 gives discounted Monte-Carlo returns minus values. Rewards on masked positions are ignored.
    """
    import torch

    if not 0.0 <= gamma <= 1.0 or not 0.0 <= lam <= 1.0:
        raise ValueError(f"gamma and lam must be in [0, 1], got gamma={gamma}, lam={lam}")
    _check("values", values, tuple(rewards.shape))
    _check("mask", mask, tuple(rewards.shape))
    valid = mask.to(torch.bool)
    r, v = rewards.to(torch.float32), values.to(torch.float32)
    n, t = r.shape
    adv = torch.zeros_like(r)
    next_value = torch.zeros(n, dtype=r.dtype, device=r.device)
    next_adv = torch.zeros(n, dtype=r.dtype, device=r.device)
    for i in reversed(range(t)):
        m = valid[:, i]
        delta = r[:, i] + gamma * next_value - v[:, i]
        a = delta + gamma * lam * next_adv
        adv[:, i] = torch.where(m, a, torch.zeros_like(a))
        next_value = torch.where(m, v[:, i], next_value)
        next_adv = torch.where(m, a, next_adv)
    returns = torch.where(valid, adv + v, torch.zeros_like(adv))
    return adv, returns


def value_loss(
    values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
    clip: float | None = 0.2,
) -> tuple[torch.Tensor, dict[str, float]]:
    """PPO's clipped value loss, the masked token mean of ``½·max((V − R)², (V_clip − R)²)`` with
    ``V_clip = old + clamp(V − old, −clip, clip)``; ``clip=None`` gives plain ``½·(V − R)²``.

    Returns the loss and ``{"value_clip_frac": share of valid tokens where the clipped term won}``.
    """
    import torch

    m = mask.to(values.dtype)
    count = m.sum().clamp(min=1.0)
    plain = (values - returns) ** 2
    if clip is None:
        return 0.5 * (plain * m).sum() / count, {"value_clip_frac": 0.0}
    if clip <= 0:
        raise ValueError(f"value clip must be > 0 (or None for no clipping), got {clip}")
    clipped_v = old_values + torch.clamp(values - old_values, -clip, clip)
    clipped = (clipped_v - returns) ** 2
    worst = torch.maximum(plain, clipped)
    frac = float(((clipped > plain).to(values.dtype) * m).sum() / count)
    return 0.5 * (worst * m).sum() / count, {"value_clip_frac": frac}


def whiten(
    x: torch.Tensor, mask: torch.Tensor, *, totals: tuple[float, float, float] | None = None, eps: float = 1e-8
) -> torch.Tensor:
    """``(x − mean) / (std + eps)`` over the valid tokens, 0 elsewhere (PPO's advantage normalisation).

    ``mean`` and the population ``std`` come from ``totals = (count, Σx, Σx²)`` of the whole batch when
    given (summed over ranks by the caller), else from this tensor's valid entries. No valid entry: all 0.
    """
    import torch

    valid = mask.to(torch.bool)
    xf = x.to(torch.float32)
    if totals is None:
        sel = xf[valid]
        totals = (float(sel.numel()), float(sel.sum()), float((sel * sel).sum()))
    count, total, total_sq = totals
    if count <= 0:
        return torch.zeros_like(xf)
    mean = total / count
    var = max(total_sq / count - mean * mean, 0.0)
    out = (xf - mean) / (var ** 0.5 + eps)
    return torch.where(valid, out, torch.zeros_like(out))
