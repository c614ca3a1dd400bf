"""LR schedules against hand-computed factors; AdamW parameter groups; gradient clipping."""

import math

import pytest

from r1cli.errors import R1Error
from r1cli.train.optim import build_optimizer, build_scheduler, clip_grad_norm, lr_factor, warmup_steps_for


def test_warmup_steps_rounds_up():
    # ceil(0.03 * 100) = ceil(3.0) = 3; ceil(0.05 * 10) = ceil(0.5) = 1; explicit count wins
    assert warmup_steps_for(100, 0.03) == 3
    assert warmup_steps_for(10, 0.05) == 1
    assert warmup_steps_for(10, 0.5, warmup_steps=7) == 7
    with pytest.raises(R1Error):
        warmup_steps_for(10, 1.5)


def test_warmup_is_linear_from_zero():
    # W = 4: factors 0/4, 1/4, 2/4, 3/4, then the schedule (constant -> 1)
    got = [lr_factor(s, schedule="constant", total_steps=10, warmup_steps=4) for s in range(6)]
    assert got == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]


def test_linear_decay():
    # T = 10, W = 2: at s = 6 progress = (6-2)/8 = 0.5 -> 0.5; at s = 10 -> 0
    assert lr_factor(6, schedule="linear", total_steps=10, warmup_steps=2) == pytest.approx(0.5)
    assert lr_factor(10, schedule="linear", total_steps=10, warmup_steps=2) == 0.0


def test_cosine_with_min_lr():
    # m = 0.1, T = 12, W = 2. s = 2: p = 0 -> 0.1 + 0.9 * 0.5 * (1 + 1) = 1.0
    # s = 7: p = 5/10 = 0.5 -> 0.1 + 0.9 * 0.5 * (1 + cos(pi/2)) = 0.1 + 0.45 = 0.55
    # s = 12: p = 1 -> 0.1 + 0.9 * 0.5 * (1 - 1) = 0.1
    kw = dict(schedule="cosine", total_steps=12, warmup_steps=2, min_lr_ratio=0.1)
    assert lr_factor(2, **kw) == pytest.approx(1.0)
    assert lr_factor(7, **kw) == pytest.approx(0.55)
    assert lr_factor(12, **kw) == pytest.approx(0.1)
    # s = 4.5 equivalent check at s = 5 (p = 0.3): 0.1 + 0.45 * (1 + cos(0.3 pi))
    assert lr_factor(5, **kw) == pytest.approx(0.1 + 0.45 * (1 + math.cos(0.3 * math.pi)))


def test_unknown_schedule_is_user_error():
    with pytest.raises(R1Error, match="cosine"):
        lr_factor(0, schedule="cosin", total_steps=10)


def test_scheduler_drives_optimizer_lr(tiny_model_factory):
    model = tiny_model_factory()
    opt = build_optimizer(model, lr=2e-3, weight_decay=0.1)
    sched = build_scheduler(opt, schedule="linear", total_steps=4, warmup_steps=0)
    lrs = []
    for _ in range(4):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    # linear from 2e-3: factors 1, 3/4, 2/4, 1/4
    assert lrs == pytest.approx([2e-3, 1.5e-3, 1e-3, 5e-4])


def test_no_weight_decay_on_vectors(tiny_model_factory):
    model = tiny_model_factory()
    opt = build_optimizer(model, lr=1e-3, weight_decay=0.1)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and all(p.ndim >= 2 for p in decay["params"])
    assert no_decay["weight_decay"] == 0.0 and all(p.ndim == 1 for p in no_decay["params"])
    assert opt.defaults.get("fused") is True  # torch >= 2.4 has a fused CPU kernel
    assert not build_optimizer(model, lr=1e-3, fused=False).defaults.get("fused")


def test_clip_grad_norm():
    import torch

    p = torch.nn.Parameter(torch.zeros(2))
    p.grad = torch.tensor([3.0, 4.0])  # norm 5
    assert clip_grad_norm([p], 1.0) == pytest.approx(5.0)
    # clipped to norm 1: [3, 4] / 5 (up to torch's 1e-6 epsilon)
    assert p.grad.tolist() == pytest.approx([0.6, 0.8], rel=1e-5)
    p.grad = torch.tensor([3.0, 4.0])
    assert clip_grad_norm([p], None) == pytest.approx(5.0)
    assert p.grad.tolist() == [3.0, 4.0]
