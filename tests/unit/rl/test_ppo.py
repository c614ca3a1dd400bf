"""PPO pieces: token rewards, GAE and the clipped value loss, against values derived by hand."""

from __future__ import annotations

import pytest
import torch

from r1cli.rl.ppo import gae, token_rewards, value_loss

R = torch.tensor([[0.0, 0.0, 1.0]])
V = torch.tensor([[0.5, 0.6, 0.7]])
M = torch.ones(1, 3)


def test_lambda_zero_is_one_step_td():
    # δ0 = 0 + 0.6 - 0.5 = 0.1; δ1 = 0 + 0.7 - 0.6 = 0.1; δ2 = 1 + 0 - 0.7 = 0.3 (no value after the end)
    adv, ret = gae(R, V, M, gamma=1.0, lam=0.0)
    assert adv.tolist()[0] == pytest.approx([0.1, 0.1, 0.3])
    assert ret.tolist()[0] == pytest.approx([0.6, 0.7, 1.0])  # r_t + V_{t+1}


def test_lambda_one_is_monte_carlo_return_minus_value():
    # return-to-go is 1 everywhere (γ = 1): A = 1 - V
    adv, ret = gae(R, V, M, gamma=1.0, lam=1.0)
    assert adv.tolist()[0] == pytest.approx([0.5, 0.4, 0.3])
    assert ret.tolist()[0] == pytest.approx([1.0, 1.0, 1.0])


def test_discounted_gae_by_hand():
    # γ = 0.9, λ = 0.5:
    # δ2 = 1 - 0.7 = 0.3;             A2 = 0.3
    # δ1 = 0.9·0.7 - 0.6 = 0.03;      A1 = 0.03 + 0.45·0.3 = 0.165
    # δ0 = 0.9·0.6 - 0.5 = 0.04;      A0 = 0.04 + 0.45·0.165 = 0.11425
    adv, ret = gae(R, V, M, gamma=0.9, lam=0.5)
    assert adv.tolist()[0] == pytest.approx([0.11425, 0.165, 0.3])
    assert ret.tolist()[0] == pytest.approx([0.61425, 0.765, 1.0])
    # λ = 1, γ = 0.9: A_t = 0.9^(2-t) - V_t
    adv, _ = gae(R, V, M, gamma=0.9, lam=1.0)
    assert adv.tolist()[0] == pytest.approx([0.81 - 0.5, 0.9 - 0.6, 1.0 - 0.7])


def test_masks_padding_and_holes():
    rewards = torch.tensor([[0.0, 2.0, 9.0], [0.0, 5.0, 1.0]])
    values = torch.tensor([[0.5, 1.0, 7.0], [0.5, 3.0, 0.25]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 1]])
    adv, ret = gae(rewards, values, mask, gamma=1.0, lam=1.0)
    # row 0 ends at token 1 (token 2 is padding, its reward 9 and value 7 ignored): A1 = 2 - 1, A0 = 2 - 0.5
    assert adv[0].tolist() == pytest.approx([1.5, 1.0, 0.0])
    # row 1 has a hole at token 1 (its reward 5 ignored): token 0 links to token 2
    # A2 = 1 - 0.25 = 0.75; A0 = 0 + 0.25 - 0.5 + 0.75 = 0.5 (= return 1 minus V0)
    assert adv[1].tolist() == pytest.approx([0.5, 0.0, 0.75])
    assert ret[1].tolist() == pytest.approx([1.0, 0.0, 1.0])
    # λ = 0 on the hole: δ0 = 0 + V2 - V0 = -0.25
    adv0, _ = gae(rewards, values, mask, gamma=1.0, lam=0.0)
    assert adv0[1].tolist() == pytest.approx([-0.25, 0.0, 0.75])


def test_gae_rejects_bad_arguments():
    with pytest.raises(ValueError, match="gamma and lam"):
        gae(R, V, M, gamma=1.5)
    with pytest.raises(ValueError, match="values must have shape"):
        gae(R, V[:, :2], M)


def test_token_rewards_put_the_outcome_on_the_last_valid_token():
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]])
    out = token_rewards(torch.tensor([1.0, -1.0, 5.0]), mask)
    assert out.tolist() == [[0, 1, 0, 0], [0, 0, 0, -1], [0, 0, 0, 0]]
    kl = torch.full((3, 4), 2.0)
    out = token_rewards(torch.tensor([1.0, -1.0, 5.0]), mask, kl=kl, beta=0.1)
    assert out.tolist()[0] == pytest.approx([-0.2, 0.8, 0.0, 0.0])
    assert out.tolist()[1] == pytest.approx([-0.2, -0.2, -0.2, -1.2])


def test_value_loss_clipping_by_hand():
    values = torch.tensor([[1.0, 0.0]])
    old = torch.tensor([[0.5, 0.0]])
    returns = torch.tensor([[2.0, 1.0]])
    mask = torch.ones(1, 2)
    # token 0: plain (1-2)² = 1; clipped V = 0.5 + clamp(0.5, ±0.2) = 0.7 -> (0.7-2)² = 1.69 -> max 1.69
    # token 1: plain (0-1)² = 1; clipped V = 0 -> 1 -> 1
    loss, stats = value_loss(values, old, returns, mask, clip=0.2)
    assert float(loss) == pytest.approx(0.5 * (1.69 + 1.0) / 2)
    assert stats["value_clip_frac"] == pytest.approx(0.5)
    plain, _ = value_loss(values, old, returns, mask, clip=None)
    assert float(plain) == pytest.approx(0.5 * (1.0 + 1.0) / 2)
    masked, _ = value_loss(values, old, returns, torch.tensor([[1.0, 0.0]]), clip=0.2)
    assert float(masked) == pytest.approx(0.5 * 1.69)


def test_whiten_by_hand():
    from r1cli.rl.ppo import whiten

    x = torch.tensor([[1.0, 3.0, 99.0], [5.0, 7.0, -4.0]])
    m = torch.tensor([[1, 1, 0], [1, 1, 0]], dtype=torch.bool)
    # valid 1, 3, 5, 7: mean 4, population variance (9 + 1 + 1 + 9) / 4 = 5
    out = whiten(x, m, eps=0.0)
    s = 5 ** 0.5
    assert out.flatten().tolist() == pytest.approx([-3 / s, -1 / s, 0.0, 1 / s, 3 / s, 0.0])
    # totals of a larger batch (another rank's tokens included) replace this tensor's
    out = whiten(x, m, totals=(8.0, 32.0, 8 * 16.0 + 8 * 5.0), eps=0.0)  # mean 4, variance 5 again
    assert out[0, 0].item() == pytest.approx(-3 / s)
    assert whiten(x, torch.zeros_like(m)).abs().sum() == 0  # nothing valid: all zero, no NaN
