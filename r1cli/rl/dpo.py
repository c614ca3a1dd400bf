"""Preference losses on verified pairs: sigmoid DPO, IPO and length-normalised DPO (pure functions).

Inputs are per-pair sequence log-probabilities ``[B]`` of the chosen and the rejected completion
under the policy and under the frozen reference (sums over completion tokens), plus the completion
lengths ``[B]`` that IPO and the normalised variant divide by. With the log-ratios
``c = log π(y_w) − log π_ref(y_w)`` and ``r = log π(y_l) − log π_ref(y_l)``:

- ``sigmoid`` (DPO, Rafailov et al. 2023): ``−log σ(β·(c − r))``, with optional label smoothing ε
  (conservative DPO): ``−(1−ε)·log σ(β·Δ) − ε·log σ(−β·Δ)``;
- ``ipo`` (Azar et al. 2023): ``(c/|y_w| − r/|y_l| − 1/(2β))²``, the log-ratios averaged per token
  (the form the IPO authors' results correspond to, and TRL's);
- ``sigmoid-norm``: ``−log σ(β·(c/|y_w| − r/|y_l|))``, DPO on per-token averages, so a long
  rejected chain is not favoured for its length alone;
- ``nca`` (noise-contrastive alignment, Chen et al. 2024; Light-R1's DPO stage):
  ``−log σ(β·c) − ½·log σ(−β·c) − ½·log σ(−β·r)``.

Any loss can add ``α·(−log π(y_w) / |y_w|)``, the chosen completion's per-token negative log-likelihood
(``nll_coef`` α; the "DPO + NLL" objective of iterative reasoning preference optimisation, Pang et al.
2024, TRL's ``rpo_alpha``): it keeps the chosen chain's likelihood from falling with the rejected one's.

The implicit rewards ``β·c`` and ``β·r`` are returned for logging (reward accuracy and margin).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DPO_LOSSES = ("sigmoid", "ipo", "sigmoid-norm", "nca")


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    *,
    beta: float = 0.1,
    loss_type: str = "sigmoid",
    label_smoothing: float = 0.0,
    chosen_lengths: torch.Tensor | None = None,
    rejected_lengths: torch.Tensor | None = None,
    nll_coef: float = 0.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Per-pair losses ``[B]`` and ``{"chosen_rewards", "rejected_rewards"}`` (each ``[B]``, detached)."""
    import torch
    import torch.nn.functional as F

    from r1cli.errors import did_you_mean, one_of

    if loss_type not in DPO_LOSSES:
        raise ValueError(f"unknown DPO loss {loss_type!r}{did_you_mean(loss_type, DPO_LOSSES)}; use {one_of(DPO_LOSSES)}")
    if not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    if nll_coef < 0:
        raise ValueError(f"nll_coef must be >= 0, got {nll_coef}")
    if nll_coef and chosen_lengths is None:
        raise ValueError("nll_coef divides the chosen log-likelihood by its length: pass chosen_lengths")
    if not 0.0 <= label_smoothing < 0.5:
        raise ValueError(f"label_smoothing must be in [0, 0.5), got {label_smoothing}")
    shape = tuple(policy_chosen.shape)
    for name, t in (("policy_rejected", policy_rejected), ("ref_chosen", ref_chosen), ("ref_rejected", ref_rejected)):
        if tuple(t.shape) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {tuple(t.shape)}")
    c = policy_chosen - ref_chosen
    r = policy_rejected - ref_rejected
    if loss_type in ("ipo", "sigmoid-norm"):
        if chosen_lengths is None or rejected_lengths is None:
            raise ValueError(f"loss '{loss_type}' divides by completion lengths: pass chosen_lengths and rejected_lengths")
        delta = c / chosen_lengths.to(c.dtype).clamp(min=1.0) - r / rejected_lengths.to(r.dtype).clamp(min=1.0)
    else:
        delta = c - r
    if loss_type == "ipo":
        losses = (delta - 1.0 / (2.0 * beta)) ** 2
    elif loss_type == "nca":
        losses = -F.logsigmoid(beta * c) - 0.5 * F.logsigmoid(-beta * c) - 0.5 * F.logsigmoid(-beta * r)
    else:
        losses = -(1.0 - label_smoothing) * F.logsigmoid(beta * delta) - label_smoothing * F.logsigmoid(-beta * delta)
    if nll_coef:
        losses = losses - nll_coef * policy_chosen / chosen_lengths.to(policy_chosen.dtype).clamp(min=1.0)
    with torch.no_grad():
        stats = {"chosen_rewards": beta * c.detach(), "rejected_rewards": beta * r.detach()}
    return losses, stats
