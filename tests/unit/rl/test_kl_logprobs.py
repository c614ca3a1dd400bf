"""kl_estimate directly, and token_logprobs / entropy_from_logits on hand-computed logits."""

import math

import pytest
import torch

from r1cli.rl import entropy_from_logits, kl_estimate, token_logprobs

D = torch.float64


def test_kl_estimators_values():
    # x = ref - logp = [-0.5, 1.0]
    logp = torch.tensor([[-1.0, -2.0]], dtype=D)
    ref = torch.tensor([[-1.5, -1.0]], dtype=D)
    assert torch.allclose(kl_estimate(logp, ref, "k1"), torch.tensor([[0.5, -1.0]], dtype=D))  # -x
    assert torch.allclose(kl_estimate(logp, ref, "k2"), torch.tensor([[0.125, 0.5]], dtype=D))  # x^2/2
    # e^x - x - 1: e^-0.5 + 0.5 - 1 = 0.106531 ; e - 2 = 0.718282
    k3 = kl_estimate(logp, ref, "k3")
    assert torch.allclose(k3, torch.tensor([[0.106531, 0.718282]], dtype=D), atol=1e-6)


def test_k3_is_zero_at_equality_and_nonnegative_and_clamped():
    logp = torch.tensor([[-3.0, -1.0, -50.0]], dtype=D)
    ref = torch.tensor([[-3.0, -4.0, 0.0]], dtype=D)
    k3 = kl_estimate(logp, ref, "k3")
    assert k3[0, 0].item() == 0.0 and (k3 >= 0).all()
    # x = 50 clamped to 20: e^20 - 21
    assert k3[0, 2].item() == pytest.approx(math.exp(20) - 21)


def test_kl_validation():
    with pytest.raises(ValueError, match="unknown KL estimator"):
        kl_estimate(torch.zeros(1, 1), torch.zeros(1, 1), "kl")
    with pytest.raises(ValueError, match="same shape"):
        kl_estimate(torch.zeros(1, 1), torch.zeros(1, 2), "k1")


def test_token_logprobs_hand_values():
    logits = torch.tensor([[[0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, -1e9]]])  # [1, 2, 4]
    ids = torch.tensor([[1, 2]])
    lp = token_logprobs(logits, ids)
    # uniform over 4: log(1/4) = -1.386294 ; 3 - log(e + e^2 + e^3) = 3 - 3.407606 = -0.407606
    assert torch.allclose(lp, torch.tensor([[-1.386294, -0.407606]]), atol=1e-5)
    assert lp.dtype == torch.float32


def test_token_logprobs_temperature_and_stability():
    # [1000, 0] / T=1: token 0 -> -log(1 + e^-1000) = 0 ; token 1 -> -1000 (no overflow / NaN)
    logits = torch.tensor([[[1000.0, 0.0], [1000.0, 0.0]]])
    lp = token_logprobs(logits, torch.tensor([[0, 1]]))
    assert torch.allclose(lp, torch.tensor([[0.0, -1000.0]]))
    # temperature 2 on [2, 0]: logits [1, 0] -> log(e/(e+1)) = -0.313262
    lp2 = token_logprobs(torch.tensor([[[2.0, 0.0]]]), torch.tensor([[0]]), temperature=2.0)
    assert lp2.item() == pytest.approx(-0.313262, abs=1e-6)


def test_token_logprobs_chunking_and_bf16_and_grad():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 11, generator=g)
    ids = torch.randint(0, 11, (3, 5), generator=g)
    ref = torch.log_softmax(logits, -1).gather(-1, ids.unsqueeze(-1)).squeeze(-1)
    for chunk in (1, 4, 15, 1000):
        assert torch.allclose(token_logprobs(logits, ids, chunk_size=chunk), ref, atol=1e-6)
    # bf16 logits are upcast before the softmax
    assert token_logprobs(logits.bfloat16(), ids).dtype == torch.float32
    x = logits.clone().requires_grad_(True)
    token_logprobs(x, ids, chunk_size=4).sum().backward()
    # d log p_id / d z = onehot(id) - softmax(z): sums to 0 over the vocabulary
    assert torch.allclose(x.grad.sum(-1), torch.zeros(3, 5), atol=1e-6)


def test_entropy_hand_values():
    # uniform over 4: ln 4 = 1.386294 ; p = [1/4, 3/4] from logits [0, ln 3]:
    # -(.25 ln .25 + .75 ln .75) = .346574 + .215762 = 0.562335 ; near one-hot [1000, 0, 0]: ~0
    logits = torch.tensor([[[0.0, 0.0, 0.0, 0.0], [0.0, math.log(3), -1e9, -1e9], [1000.0, 0.0, 0.0, 0.0]]])
    h = entropy_from_logits(logits, chunk_size=2)
    assert torch.allclose(h, torch.tensor([[1.386294, 0.562335, 0.0]]), atol=1e-5)


def test_logprob_validation():
    with pytest.raises(ValueError, match="logits must be"):
        token_logprobs(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="ids must be"):
        token_logprobs(torch.zeros(2, 3, 4), torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="temperature"):
        entropy_from_logits(torch.zeros(1, 1, 2), temperature=0)
    with pytest.raises(ValueError, match="chunk_size"):
        entropy_from_logits(torch.zeros(1, 1, 2), chunk_size=0)


def test_importance_weights_token_and_sequence():
    from r1cli.rl import importance_weights

    # log rho = old - rollout = [[ln 3, ln 0.5, pad], [ln 1.5, ln 1.2, ln 0.9]]
    old = torch.zeros(2, 3, dtype=D)
    rollout = -torch.log(torch.tensor([[3.0, 0.5, 7.0], [1.5, 1.2, 0.9]], dtype=D))
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    # token truncate at 2: [[2, .5, 0], [1.5, 1.2, .9]]; 1 of 5 tokens truncated
    w, st = importance_weights(old, rollout, mask, threshold=2.0)
    assert torch.allclose(w, torch.tensor([[2.0, 0.5, 0.0], [1.5, 1.2, 0.9]], dtype=D))
    assert st["is_clipped_frac"] == pytest.approx(1 / 5)
    # mean |gap| = (ln 3 + ln 2 + ln 1.5 + ln 1.2 + |ln .9|) / 5
    gap = (math.log(3) + math.log(2) + math.log(1.5) + math.log(1.2) - math.log(0.9)) / 5
    assert st["logp_gap_mean"] == pytest.approx(gap)
    # token mask [0.6, 2]: 3 -> 0 and 0.5 -> 0
    w, st = importance_weights(old, rollout, mask, mode="mask", threshold=2.0, threshold_low=0.6)
    assert torch.allclose(w, torch.tensor([[0.0, 0.0, 0.0], [1.5, 1.2, 0.9]], dtype=D))
    assert st["is_clipped_frac"] == pytest.approx(2 / 5)
    # sequence level: row0 3 * 0.5 = 1.5 ; row1 1.5 * 1.2 * 0.9 = 1.62 ; both under 2
    w, _ = importance_weights(old, rollout, mask, level="sequence", threshold=2.0)
    assert torch.allclose(w, torch.tensor([[1.5, 1.5, 0.0], [1.62, 1.62, 1.62]], dtype=D))
    # sequence mask at 1.6: row1 (1.62) masked out entirely
    w, _ = importance_weights(old, rollout, mask, level="sequence", mode="mask", threshold=1.6)
    assert torch.allclose(w, torch.tensor([[1.5, 1.5, 0.0], [0.0, 0.0, 0.0]], dtype=D))
    with pytest.raises(ValueError, match="unknown IS mode"):
        importance_weights(old, rollout, mask, mode="clip")


def test_policy_loss_is_weights_scale_policy_term_only():
    from r1cli.rl import policy_loss

    # rho = 1, A = [1]: l = -1 per token; weights [2, 0.5] -> (-2 - 0.5) / 2 = -1.25 ; KL (k2, x = [.5, .5])
    # adds beta * mean(0.125) unweighted: 0.1 * 0.125 = 0.0125 -> -1.2375
    logp = torch.tensor([[-1.0, -2.0]], dtype=D)
    loss, _ = policy_loss(
        logp, logp, torch.tensor([1.0], dtype=D), torch.ones(1, 2),
        is_weights=torch.tensor([[2.0, 0.5]], dtype=D), ref_logp=logp + 0.5, beta=0.1, kl="k2",
    )  # fmt: skip
    assert loss.item() == pytest.approx(-1.2375)
