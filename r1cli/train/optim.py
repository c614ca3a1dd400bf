"""Optimizer and learning-rate schedules shared by the SFT and GRPO trainers.

* :func:`build_optimizer` — AdamW with weight decay on matrices only (biases, norms and other 1-D
  parameters get none, as in HF Trainer), fused kernel where available (CUDA, CPU).
* :func:`lr_factor` — the multiplier of the base learning rate at an optimizer step, for the
  schedules ``constant``, ``linear`` and ``cosine`` (with a floor ``min_lr_ratio``), each with a
  linear warmup. :func:`build_scheduler` wraps it in a ``LambdaLR``.
* :func:`warmup_steps_for` — ``ceil(warmup_ratio * total_steps)`` (HF Trainer's rounding).

Formulas (``s`` = optimizer steps already taken, ``W`` = warmup steps, ``T`` = total steps):

    warmup (s < W):  f = s / W
    constant:        f = 1
    linear:          f = max(0, (T - s) / (T - W))
    cosine:          p = (s - W) / (T - W);  f = m + (1 - m) * 0.5 * (1 + cos(pi * p)),  m = min_lr_ratio

``cosine`` with ``min_lr_ratio=0.1`` equals HF's ``cosine_with_min_lr`` with ``min_lr_rate=0.1``;
with ``min_lr_ratio=0`` it is HF's ``cosine``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from r1cli.errors import R1Error, one_of

SCHEDULES = ("constant", "linear", "cosine")


def warmup_steps_for(total_steps: int, warmup_ratio: float = 0.0, warmup_steps: int | None = None) -> int:
    """Warmup length in optimizer steps: ``warmup_steps`` when given, else ``ceil(ratio * total)``."""
    if warmup_steps is not None:
        return max(0, int(warmup_steps))
    if not 0.0 <= warmup_ratio <= 1.0:
        raise R1Error(f"warmup_ratio must be in [0, 1], got {warmup_ratio}")
    return int(math.ceil(warmup_ratio * total_steps))


def lr_factor(step: int, *, schedule: str, total_steps: int, warmup_steps: int = 0,
              min_lr_ratio: float = 0.0) -> float:
    """Multiplier of the base LR for the update taken after ``step`` completed optimizer steps."""
    if schedule not in SCHEDULES:
        raise R1Error(f"unknown lr schedule '{schedule}'; {one_of(SCHEDULES)}")
    if warmup_steps > 0 and step < warmup_steps:
        return step / warmup_steps
    if schedule == "constant":
        return 1.0
    decay = max(1, total_steps - warmup_steps)
    progress = min(1.0, max(0.0, (step - warmup_steps) / decay))
    if schedule == "linear":
        return max(0.0, 1.0 - progress)
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def param_groups(named_params: Iterable[tuple[str, Any]], weight_decay: float) -> list[dict]:
    """Two AdamW groups: ``>= 2``-D weights get ``weight_decay``; biases, norms (1-D) get 0.

    Frozen parameters (``requires_grad=False``) are left out.
    """
    decay, no_decay = [], []
    for _name, p in named_params:
        if not p.requires_grad:
            continue
        (decay if p.ndim >= 2 else no_decay).append(p)
    groups = []
    if decay:
        groups.append({"params": decay, "weight_decay": weight_decay})
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def build_optimizer(model: Any, *, lr: float, weight_decay: float = 0.0,
                    betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                    fused: bool | None = None) -> Any:
    """``torch.optim.AdamW`` over ``model``'s trainable parameters.

    ``fused=None`` uses the fused kernel where this torch build has one for the parameters' device
    (CUDA, and CPU since torch 2.4; HF Trainer's default ``adamw_torch_fused`` too), else the
    foreach implementation; ``fused=False`` forces foreach.
    """
    import torch

    groups = param_groups(model.named_parameters(), weight_decay)
    if not groups:
        raise R1Error("the model has no trainable parameters")
    kwargs: dict[str, Any] = {"lr": lr, "betas": tuple(betas), "eps": eps}
    if fused is not False:
        try:
            return torch.optim.AdamW(groups, fused=True, **kwargs)
        except (RuntimeError, TypeError, ValueError):  # no fused kernel for this device / dtype
            if fused:
                raise
    return torch.optim.AdamW(groups, **kwargs)


def build_scheduler(optimizer: Any, *, schedule: str, total_steps: int, warmup_steps: int = 0,
                    min_lr_ratio: float = 0.0) -> Any:
    """A ``LambdaLR`` applying :func:`lr_factor`; call ``scheduler.step()`` once per optimizer step."""
    import torch

    if schedule not in SCHEDULES:
        raise R1Error(f"unknown lr schedule '{schedule}'; {one_of(SCHEDULES)}")
    if not 0.0 <= min_lr_ratio <= 1.0:
        raise R1Error(f"min_lr_ratio must be in [0, 1], got {min_lr_ratio}")

    def fn(step: int) -> float:
        return lr_factor(step, schedule=schedule, total_steps=total_steps, warmup_steps=warmup_steps,
                         min_lr_ratio=min_lr_ratio)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, fn)


def clip_grad_norm(parameters: Iterable[Any], max_norm: float | None) -> float:
    """Clip the global L2 norm of the gradients to ``max_norm`` (skip when ``None`` or ``<= 0``).

    Returns the norm before clipping (computed either way, for logging).
    """
    import torch

    params = [p for p in parameters if p.grad is not None]
    if not params:
        return 0.0
    if max_norm is None or max_norm <= 0:
        norms = torch.stack([p.grad.detach().float().norm(2) for p in params])
        return float(norms.norm(2))
    return float(torch.nn.utils.clip_grad_norm_(params, max_norm))


def current_lr(optimizer: Any) -> float:
    """The learning rate of the first parameter group."""
    return float(optimizer.param_groups[0]["lr"])
