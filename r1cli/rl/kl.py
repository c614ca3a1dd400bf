"""Per-token KL estimators between the policy and a frozen reference model.

With ``x = log π_ref(o_t) − log π_θ(o_t)`` on tokens sampled from the policy (Schulman's notation):

- ``k1 = −x``                 unbiased value of KL(π_θ‖π_ref); as a loss its gradient is wrong in expectation;
- ``k2 = x² / 2``             its gradient is the reverse-KL gradient;
- ``k3 = eˣ − x − 1``         unbiased, never negative, low variance (verl's ``low_var_kl``, TRL's default).

``x`` is clamped to ``[−20, 20]`` before use (as verl does) so that ``eˣ`` never overflows on
padding or on a wildly diverged token; inside that range the formulas are exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from r1cli.errors import did_you_mean, one_of

if TYPE_CHECKING:
    import torch

KL_ESTIMATORS = ("k1", "k2", "k3")
"""Names accepted by ``kl_estimate(kind=...)`` and ``policy_loss(kl=...)``."""

KL_CLAMP = 20.0


def check_kl(kind: str) -> None:
    """Raise ``ValueError`` naming the valid estimators when ``kind`` is unknown."""
    if kind not in KL_ESTIMATORS:
        raise ValueError(
            f"unknown KL estimator {kind!r}{did_you_mean(kind, KL_ESTIMATORS)}; use {one_of(KL_ESTIMATORS)}"
        )


def kl_estimate(logp: torch.Tensor, ref_logp: torch.Tensor, kind: str = "k3") -> torch.Tensor:
    """Per-token KL estimate ``[B, T]`` from policy log-probs ``logp[B, T]`` and ``ref_logp[B, T]``.

    Gradients flow through ``logp``; ``ref_logp`` is treated as given (pass it detached).
    Padding positions produce finite garbage: mask them in the aggregation.
    """
    import torch

    check_kl(kind)
    if logp.shape != ref_logp.shape:
        raise ValueError(
            f"logp {tuple(logp.shape)} and ref_logp {tuple(ref_logp.shape)} must have the same shape"
        )
    x = torch.clamp(ref_logp - logp, -KL_CLAMP, KL_CLAMP)  # [B, T]
    if kind == "k1":
        return -x
    if kind == "k2":
        return 0.5 * x * x
    return torch.exp(x) - x - 1.0
