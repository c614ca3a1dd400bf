"""DPO, IPO and length-normalised DPO losses against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from r1cli.rl.dpo import dpo_loss

PC, PR = torch.tensor([-10.0, -4.0]), torch.tensor([-12.0, -3.0])  # policy log-probs (chosen, rejected)
RC, RR = torch.tensor([-11.0, -4.0]), torch.tensor([-11.0, -4.0])  # reference
LC, LR = torch.tensor([4.0, 2.0]), torch.tensor([8.0, 1.0])  # completion lengths


def logsig(x: float) -> float:
    return -math.log1p(math.exp(-x))


def test_sigmoid_dpo_by_hand():
    # pair 0: c = -10 - -11 = 1, r = -12 - -11 = -1, Δ = 2; β = 0.1 -> -log σ(0.2)
    # pair 1: c = 0, r = 1, Δ = -1 -> -log σ(-0.1)
    losses, stats = dpo_loss(PC, PR, RC, RR, beta=0.1)
    assert losses.tolist() == pytest.approx([-logsig(0.2), -logsig(-0.1)])
    assert stats["chosen_rewards"].tolist() == pytest.approx([0.1, 0.0])
    assert stats["rejected_rewards"].tolist() == pytest.approx([-0.1, 0.1])
    # at Δ = 0 the loss is log 2
    zero, _ = dpo_loss(RC, RR, RC, RR, beta=0.5)
    assert zero.tolist() == pytest.approx([math.log(2)] * 2)


def test_label_smoothing_by_hand():
    losses, _ = dpo_loss(PC, PR, RC, RR, beta=0.1, label_smoothing=0.2)
    assert float(losses[0]) == pytest.approx(-0.8 * logsig(0.2) - 0.2 * logsig(-0.2))


def test_ipo_by_hand():
    # per-token: pair 0: 1/4 - (-1)/8 = 0.375; pair 1: 0/2 - 1/1 = -1; β = 0.5 -> 1/(2β) = 1
    losses, _ = dpo_loss(PC, PR, RC, RR, beta=0.5, loss_type="ipo", chosen_lengths=LC, rejected_lengths=LR)
    assert losses.tolist() == pytest.approx([(0.375 - 1) ** 2, (-1 - 1) ** 2])


def test_length_normalised_by_hand():
    losses, _ = dpo_loss(PC, PR, RC, RR, beta=2.0, loss_type="sigmoid-norm", chosen_lengths=LC, rejected_lengths=LR)
    assert losses.tolist() == pytest.approx([-logsig(2.0 * 0.375), -logsig(2.0 * -1.0)])


def test_nca_by_hand():
    # pair 0: βc = 0.3·1, βr = 0.3·(-1)
    losses, _ = dpo_loss(PC, PR, RC, RR, beta=0.3, loss_type="nca")
    assert float(losses[0]) == pytest.approx(-logsig(0.3) - 0.5 * logsig(-0.3) - 0.5 * logsig(0.3))


def test_gradient_pushes_chosen_up_and_rejected_down():
    pc, pr = PC.clone().requires_grad_(), PR.clone().requires_grad_()
    losses, _ = dpo_loss(pc, pr, RC, RR, beta=0.1)
    losses.sum().backward()
    # d/dpc [-log σ(βΔ)] = -β·σ(-βΔ)
    assert pc.grad.tolist() == pytest.approx([-0.1 * (1 - 1 / (1 + math.exp(-0.2))), -0.1 * (1 - 1 / (1 + math.exp(0.1)))])
    assert (pc.grad < 0).all() and (pr.grad > 0).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="did you mean 'ipo'"):
        dpo_loss(PC, PR, RC, RR, loss_type="ipoo")
    with pytest.raises(ValueError, match="pass chosen_lengths"):
        dpo_loss(PC, PR, RC, RR, loss_type="ipo")
    with pytest.raises(ValueError, match="beta"):
        dpo_loss(PC, PR, RC, RR, beta=0.0)
    with pytest.raises(ValueError, match="shape"):
        dpo_loss(PC, PR[:1], RC, RR)


def test_nll_term_by_hand():
    # DPO + NLL: pair 0 adds α·(10 / 4), pair 1 adds α·(4 / 2); α = 0.5
    losses, _ = dpo_loss(PC, PR, RC, RR, beta=0.1, chosen_lengths=LC, nll_coef=0.5)
    assert losses.tolist() == pytest.approx([-logsig(0.2) + 0.5 * 2.5, -logsig(-0.1) + 0.5 * 2.0])
    # its gradient raises the chosen log-likelihood even where the DPO term is flat
    pc = RC.clone().requires_grad_(True)
    dpo_loss(pc, RR, RC, RR, beta=0.1, chosen_lengths=LC, nll_coef=1.0)[0].sum().backward()
    assert pc.grad.tolist() == pytest.approx([-0.05 - 1 / 4, -0.05 - 1 / 2])
    with pytest.raises(ValueError, match="chosen_lengths"):
        dpo_loss(PC, PR, RC, RR, nll_coef=1.0)
    with pytest.raises(ValueError, match="nll_coef"):
        dpo_loss(PC, PR, RC, RR, chosen_lengths=LC, nll_coef=-1.0)
