"""policy_loss: clipping branches, clip-higher, dual-clip, GSPO, KL terms, stats, validation."""

import math

import pytest
import torch

from r1cli.rl import policy_loss

D = torch.float64


def rows(ratios, advantages):
    """One single-token sequence per (ratio, advantage): logp - old_logp = ln(ratio)."""
    old = torch.full((len(ratios), 1), -1.0, dtype=D)
    logp = (old + torch.log(torch.tensor(ratios, dtype=D)).unsqueeze(1)).requires_grad_(True)
    adv = torch.tensor(advantages, dtype=D)
    mask = torch.ones(len(ratios), 1, dtype=torch.bool)
    return logp, old, adv, mask


# rho, A                        -> per-token loss  l = -min(rho*A, clip(rho, .8, 1.2)*A)
#  0: 1.5, +1  high clip active  -> -min(1.5, 1.2)    = -1.2   (gradient 0)
#  1: 0.5, +1  not clipped       -> -min(0.5, 0.8)    = -0.5
#  2: 1.1, +2  inside the band   -> -min(2.2, 2.2)    = -2.2
#  3: 0.5, -1  low clip active   -> -min(-0.5, -0.8)  =  0.8   (gradient 0)
#  4: 1.5, -1  not clipped       -> -min(-1.5, -1.2)  =  1.5
#  5: 5.0, -1  not clipped       -> -min(-5.0, -1.2)  =  5.0   ; dual_clip=3: min(5, 3) = 3 (gradient 0)
RATIOS = [1.5, 0.5, 1.1, 0.5, 1.5, 5.0]
ADVS = [1.0, 1.0, 2.0, -1.0, -1.0, -1.0]


def test_both_clipping_branches_values_and_gradients():
    logp, old, adv, mask = rows(RATIOS, ADVS)
    loss, stats = policy_loss(logp, old, adv, mask)
    # token-mean over 6 tokens: (-1.2 - 0.5 - 2.2 + 0.8 + 1.5 + 5.0) / 6 = 3.4 / 6
    assert loss.item() == pytest.approx(3.4 / 6, abs=1e-9)
    loss.backward()
    # d l / d logp = -A * rho where unclipped (d rho / d logp = rho), 0 where the clip is active; / 6 tokens
    # row1: -1*0.5/6 ; row2: -2*1.1/6 ; row4: +1.5/6 ; row5: +5/6 ; rows 0 and 3: 0
    expected = torch.tensor([0.0, -0.5 / 6, -2.2 / 6, 0.0, 1.5 / 6, 5.0 / 6], dtype=D)
    assert torch.allclose(logp.grad.squeeze(1), expected, atol=1e-9)
    # one of 6 tokens on each clipped side
    assert stats["clip_frac_low"] == pytest.approx(1 / 6)
    assert stats["clip_frac_high"] == pytest.approx(1 / 6)
    assert stats["clip_frac_dual"] == 0.0
    # ratio mean (1.5+.5+1.1+.5+1.5+5)/6 = 10.1/6 = 1.683333 ; max 5
    assert stats["ratio_mean"] == pytest.approx(10.1 / 6)
    assert stats["ratio_max"] == pytest.approx(5.0)
    assert stats["policy_loss"] == pytest.approx(3.4 / 6) and stats["kl_loss"] == 0.0
    assert stats["num_tokens"] == 6 and stats["num_seqs"] == 6


def test_dual_clip_caps_negative_advantage_loss():
    logp, old, adv, mask = rows(RATIOS, ADVS)
    loss, stats = policy_loss(logp, old, adv, mask, dual_clip=3.0)
    # row5 becomes min(5, -3*(-1)) = 3: (-1.2 - 0.5 - 2.2 + 0.8 + 1.5 + 3) / 6 = 1.4 / 6
    assert loss.item() == pytest.approx(1.4 / 6, abs=1e-9)
    loss.backward()
    assert logp.grad[5, 0].item() == 0.0  # capped: constant -c*A
    assert logp.grad[4, 0].item() == pytest.approx(1.5 / 6)  # rho 1.5 < c = 3: untouched
    assert stats["clip_frac_dual"] == pytest.approx(1 / 6)


def test_dual_clip_ignores_positive_advantages():
    # rho 5, A = +1: clipped at 1.2 -> -1.2 whatever the dual clip
    logp, old, adv, mask = rows([5.0], [1.0])
    loss, _ = policy_loss(logp, old, adv, mask, dual_clip=3.0)
    assert loss.item() == pytest.approx(-1.2)


def test_clip_higher():
    # rho 1.25, A = 1: symmetric 0.2 clips to -1.2; DAPO (0.2, 0.28) keeps -1.25
    logp, old, adv, mask = rows([1.25], [1.0])
    assert policy_loss(logp, old, adv, mask)[0].item() == pytest.approx(-1.2)
    loss, stats = policy_loss(logp, old, adv, mask, clip_high=0.28)
    assert loss.item() == pytest.approx(-1.25) and stats["clip_frac_high"] == 0.0
    # rho 0.75, A = -1 with clip_low 0.2: -min(-0.75, -0.8) = 0.8 (low clip); clip_low 0.3: 0.75
    logp, old, adv, mask = rows([0.75], [-1.0])
    assert policy_loss(logp, old, adv, mask)[0].item() == pytest.approx(0.8)
    assert policy_loss(logp, old, adv, mask, clip_low=0.3)[0].item() == pytest.approx(0.75)


def test_log_ratio_clamped_to_20():
    # logp - old = 50 -> clamped to 20; A = -1, no dual clip: l = exp(20) = 4.85165e8, finite
    logp = torch.tensor([[49.0]], dtype=D, requires_grad=True)
    old = torch.tensor([[-1.0]], dtype=D)
    loss, _ = policy_loss(logp, old, torch.tensor([-1.0], dtype=D), torch.ones(1, 1))
    assert loss.item() == pytest.approx(math.exp(20))
    loss.backward()
    assert logp.grad.item() == 0.0  # the clamp is flat beyond +-20


def test_ratio_one_gives_minus_advantage_and_padding_is_ignored():
    # logp == old: rho = 1, l = -A on every token; padding holds NaN and must not leak
    logp = torch.tensor([[-1.0, -2.0, -0.5], [-1.0, float("nan"), float("nan")]], dtype=D, requires_grad=True)
    old = logp.detach().clone()
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    adv = torch.tensor([1.0, -2.0], dtype=D)
    loss, stats = policy_loss(logp, old, adv, mask)
    # token-mean: (3 * -1 + 1 * 2) / 4 = -0.25
    assert loss.item() == pytest.approx(-0.25)
    loss.backward()
    # d/dlogp = -A*rho/4 : row0 -0.25 each, row1 token0 +0.5, padding exactly 0
    assert torch.equal(logp.grad, torch.tensor([[-0.25, -0.25, -0.25], [0.5, 0.0, 0.0]], dtype=D))
    assert stats["ratio_mean"] == pytest.approx(1.0) and stats["num_tokens"] == 4


def test_gspo_sequence_level():
    # row0 log-ratios [0.2, -0.4], mean -0.1 -> s0 = e^-0.1 = 0.904837, A = 1, inside [.8, 1.2] -> l = -0.904837
    # row1 log-ratios [0.5, pad] -> s1 = e^0.5 = 1.648721 > 1.2, A = 1 -> l = -1.2 (clipped)
    old = torch.tensor([[-1.0, -1.0], [-1.0, -1.0]], dtype=D)
    logp = (old + torch.tensor([[0.2, -0.4], [0.5, 99.0]], dtype=D)).requires_grad_(True)
    mask = torch.tensor([[1, 1], [1, 0]])
    adv = torch.tensor([1.0, 1.0], dtype=D)
    s0 = math.exp(-0.1)
    loss, stats = policy_loss(logp, old, adv, mask, level="sequence")
    # token-mean: (2 * -0.904837 - 1.2) / 3 = -1.003225
    assert loss.item() == pytest.approx((-2 * s0 - 1.2) / 3)
    assert loss.item() == pytest.approx(-1.003225, abs=1e-6)
    loss.backward()
    # d(-2 s0 / 3)/d logp_t = -2/3 * s0 * (1/2) = -s0/3 = -0.301612 for both tokens of row0; row1 clipped: 0
    assert torch.allclose(logp.grad, torch.tensor([[-s0 / 3, -s0 / 3], [0.0, 0.0]], dtype=D), atol=1e-12)
    assert stats["clip_frac_high"] == pytest.approx(1 / 3)  # the single token of row1
    # seq-mean-token-mean: (-0.904837 - 1.2) / 2 = -1.052419
    loss2, _ = policy_loss(logp, old, adv, mask, level="sequence", agg="seq-mean-token-mean")
    assert loss2.item() == pytest.approx((-s0 - 1.2) / 2)


def test_gspo_differs_from_token_level():
    # token level on row0 above: rho = [e^.2 = 1.221403 -> clipped 1.2, e^-.4 = 0.670320]
    # (-1.2 - 0.670320) / 2 = -0.935160
    old = torch.tensor([[-1.0, -1.0]], dtype=D)
    logp = old + torch.tensor([[0.2, -0.4]], dtype=D)
    loss, _ = policy_loss(logp, old, torch.tensor([1.0], dtype=D), torch.ones(1, 2))
    assert loss.item() == pytest.approx((-1.2 - math.exp(-0.4)) / 2)
    assert loss.item() == pytest.approx(-0.935160, abs=1e-6)


def _kl_case(kind, beta):
    # logp = [-1, -2], ref = [-1.5, -1] -> x = ref - logp = [-0.5, 1.0]; rho = 1 and A = 0: policy term 0
    logp = torch.tensor([[-1.0, -2.0]], dtype=D, requires_grad=True)
    ref = torch.tensor([[-1.5, -1.0]], dtype=D)
    out = policy_loss(
        logp, logp.detach(), torch.tensor([0.0], dtype=D), torch.ones(1, 2), ref_logp=ref, beta=beta, kl=kind
    )
    return logp, out


@pytest.mark.parametrize(
    "kind, per_token, grad_per_token",
    [
        # k1 = -x = [0.5, -1.0], mean -0.25 ; d(-x)/dlogp = +1
        ("k1", [0.5, -1.0], [1.0, 1.0]),
        # k2 = x^2/2 = [0.125, 0.5], mean 0.3125 ; d/dlogp = -x = [0.5, -1.0]
        ("k2", [0.125, 0.5], [0.5, -1.0]),
        # k3 = e^x - x - 1 = [0.606531 + 0.5 - 1, 2.718282 - 2] = [0.106531, 0.718282], mean 0.412406
        # d/dlogp = 1 - e^x = [0.393469, -1.718282]
        ("k3", [math.exp(-0.5) - 0.5, math.e - 2.0], [1 - math.exp(-0.5), 1 - math.e]),
    ],
)
def test_kl_estimators_in_loss(kind, per_token, grad_per_token):
    beta = 0.1
    logp, (loss, stats) = _kl_case(kind, beta)
    mean_k = sum(per_token) / 2
    assert stats["kl_mean"] == pytest.approx(mean_k)
    # loss = 0 (policy) + beta * token-mean(k)
    assert loss.item() == pytest.approx(beta * mean_k)
    assert stats["kl_loss"] == pytest.approx(beta * mean_k)
    loss.backward()
    expected = torch.tensor([[beta * g / 2 for g in grad_per_token]], dtype=D)
    assert torch.allclose(logp.grad, expected, atol=1e-12)


def test_k3_hand_value():
    _, (loss, stats) = _kl_case("k3", 0.1)
    assert stats["kl_mean"] == pytest.approx(0.412406, abs=1e-6)
    assert loss.item() == pytest.approx(0.0412406, abs=1e-7)


def test_kl_reported_but_not_added_when_beta_zero():
    _, (loss, stats) = _kl_case("k2", 0.0)
    assert loss.item() == 0.0 and stats["kl_loss"] == 0.0
    assert stats["kl_mean"] == pytest.approx(0.3125)


def test_kl_uses_the_same_aggregation():
    # seq-mean-token-sum-norm with norm_len 4: beta * (0.125 + 0.5) / (1 * 4) for k2
    logp = torch.tensor([[-1.0, -2.0]], dtype=D)
    loss, _ = policy_loss(
        logp,
        logp,
        torch.tensor([0.0], dtype=D),
        torch.ones(1, 2),
        ref_logp=logp + torch.tensor([[-0.5, 1.0]], dtype=D),
        beta=0.1,
        kl="k2",
        agg="seq-mean-token-sum-norm",
        norm_len=4,
    )
    assert loss.item() == pytest.approx(0.1 * 0.625 / 4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(level="seq"), "unknown ratio level"),
        (dict(agg="token_mean"), "did you mean 'token-mean'"),
        (dict(kl="k4"), "unknown KL estimator"),
        (dict(beta=0.1), "needs ref_logp"),
        (dict(dual_clip=1.0), "dual_clip must be > 1"),
        (dict(clip_low=1.0), "clip_low"),
        (dict(tokens_in_step=0), "tokens_in_step must be > 0"),
    ],
)
def test_invalid_arguments(kwargs, message):
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=message):
        policy_loss(x, x, torch.zeros(2), torch.ones(2, 3), **kwargs)


def test_shape_mismatch():
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="advantages must be"):
        policy_loss(x, x, torch.zeros(3), torch.ones(2, 3))
    with pytest.raises(ValueError, match="mask must have the shape"):
        policy_loss(x, x, torch.zeros(2), torch.ones(2, 4))


def test_per_token_advantages_by_hand():
    # PPO: A[B, T]. At ratio 1 the per-token loss is -A_t; token mean over the 3 valid tokens.
    logp = torch.zeros(1, 4, requires_grad=True)
    adv = torch.tensor([[1.0, -2.0, 4.0, 100.0]])  # the last position is padding
    mask = torch.tensor([[1, 1, 1, 0]])
    loss, st = policy_loss(logp, logp.detach(), adv, mask)
    assert float(loss) == pytest.approx(-(1 - 2 + 4) / 3)
    loss.backward()
    assert logp.grad.tolist()[0] == pytest.approx([-1 / 3, 2 / 3, -4 / 3, 0.0])
    # a row's constant per-token advantage equals the per-sequence one
    same, _ = policy_loss(logp.detach(), logp.detach(), torch.tensor([[2.0, 2.0, 2.0, 0.0]]), mask)
    seq, _ = policy_loss(logp.detach(), logp.detach(), torch.tensor([2.0]), mask)
    assert float(same) == pytest.approx(float(seq))
    # clipping acts per token: ratio e^0.5 > 1.2 clips the positive-advantage tokens only
    cur = torch.full((1, 4), 0.5)
    _, st = policy_loss(cur, torch.zeros(1, 4), adv, mask)
    assert st["clip_frac_high"] == pytest.approx(2 / 3) and st["clip_frac_low"] == 0.0
