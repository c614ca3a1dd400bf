"""aggregate / masked_mean: every aggregation mode by hand, and micro-batch equivalence of gradients."""

import pytest
import torch

from r1cli.rl import AGGREGATIONS, aggregate, masked_mean, masked_sum, policy_loss

D = torch.float64
# values [[1, 2, NaN], [4, 5, 6]], mask [[1, 1, 0], [1, 1, 1]]: L = [2, 3], the NaN sits on padding
VALUES = torch.tensor([[1.0, 2.0, float("nan")], [4.0, 5.0, 6.0]], dtype=D)
MASK = torch.tensor([[1, 1, 0], [1, 1, 1]])


def test_token_mean():
    # (1 + 2 + 4 + 5 + 6) / 5 = 18 / 5 = 3.6
    assert aggregate(VALUES, MASK, "token-mean").item() == pytest.approx(3.6)
    # step normaliser of 12 tokens: 18 / 12 = 1.5
    assert aggregate(VALUES, MASK, "token-mean", tokens_in_step=12).item() == pytest.approx(1.5)


def test_seq_mean_token_mean():
    # (3/2 + 15/3) / 2 = (1.5 + 5) / 2 = 3.25
    assert aggregate(VALUES, MASK, "seq-mean-token-mean").item() == pytest.approx(3.25)
    # 4 sequences in the step: 6.5 / 4 = 1.625
    assert aggregate(VALUES, MASK, "seq-mean-token-mean", seqs_in_step=4).item() == pytest.approx(1.625)


def test_seq_mean_token_sum_norm():
    # default norm_len = T = 3: 18 / (2 * 3) = 3.0
    assert aggregate(VALUES, MASK, "seq-mean-token-sum-norm").item() == pytest.approx(3.0)
    # norm_len 4, 5 sequences: 18 / (5 * 4) = 0.9
    assert aggregate(
        VALUES, MASK, "seq-mean-token-sum-norm", norm_len=4, seqs_in_step=5
    ).item() == pytest.approx(0.9)


def test_unused_normalisers_are_ignored_and_empty_rows_count_as_zero():
    # token-mean ignores seqs_in_step / norm_len
    assert aggregate(VALUES, MASK, "token-mean", seqs_in_step=99, norm_len=7).item() == pytest.approx(3.6)
    # a fully masked row contributes 0 but counts in B: (3/2 + 0) / 2 = 0.75
    mask = torch.tensor([[1, 1, 0], [0, 0, 0]])
    assert aggregate(VALUES, mask, "seq-mean-token-mean").item() == pytest.approx(0.75)
    # all masked -> 0, not NaN
    assert aggregate(VALUES, torch.zeros(2, 3), "token-mean").item() == 0.0


def test_masked_mean_and_sum():
    assert masked_sum(VALUES, MASK).item() == pytest.approx(18.0)
    assert torch.allclose(masked_mean(VALUES, MASK, dim=1), torch.tensor([1.5, 5.0], dtype=D))
    assert masked_mean(VALUES, torch.zeros(2, 3)).item() == 0.0


def test_aggregate_validation():
    with pytest.raises(ValueError, match="did you mean 'token-mean'"):
        aggregate(VALUES, MASK, "token-means")
    with pytest.raises(ValueError, match="norm_len must be > 0"):
        aggregate(VALUES, MASK, "seq-mean-token-sum-norm", norm_len=0)
    with pytest.raises(ValueError, match="same shape"):
        aggregate(VALUES, MASK[:, :2], "token-mean")


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    b, t = 8, 6
    old = -torch.rand(b, t, generator=g, dtype=D) * 3  # [8, 6]
    logp = (old + torch.randn(b, t, generator=g, dtype=D) * 0.3).requires_grad_(True)
    ref = old + torch.randn(b, t, generator=g, dtype=D) * 0.2
    adv = torch.randn(b, generator=g, dtype=D)
    lengths = torch.tensor([6, 1, 3, 5, 2, 6, 4, 0])  # varied, one empty (e.g. overlong-filtered)
    mask = torch.arange(t).unsqueeze(0) < lengths.unsqueeze(1)  # [8, 6]
    return logp, old, ref, adv, mask


@pytest.mark.parametrize("agg", AGGREGATIONS)
@pytest.mark.parametrize("level", ["token", "sequence"])
def test_one_batch_of_8_equals_4_micro_batches_of_2(agg, level):
    kw = dict(agg=agg, level=level, beta=0.05, kl="k3", clip_high=0.28, dual_clip=3.0)
    logp, old, ref, adv, mask = _batch()
    # step normalisers of the whole optimizer step: 27 tokens, 8 sequences, constant norm_len 10
    step = dict(tokens_in_step=int(mask.sum()), seqs_in_step=8, norm_len=10)
    assert step["tokens_in_step"] == 27  # 6+1+3+5+2+6+4+0
    full, _ = policy_loss(logp, old, adv, mask, ref_logp=ref, **kw, **step)
    (g_full,) = torch.autograd.grad(full, logp)

    total = 0.0
    for i in range(0, 8, 2):
        part, _ = policy_loss(
            logp[i : i + 2],
            old[i : i + 2],
            adv[i : i + 2],
            mask[i : i + 2],
            ref_logp=ref[i : i + 2],
            **kw,
            **step,
        )
        total = total + part
    (g_micro,) = torch.autograd.grad(total, logp)
    assert torch.allclose(total, full, atol=1e-12)
    assert torch.allclose(g_micro, g_full, atol=1e-12)
    assert g_full.abs().sum() > 0  # a real gradient was compared


def test_per_micro_batch_normalisation_is_a_different_objective():
    # the trap of rl-algorithms.md section 1.4: token-mean per micro-batch, averaged over 4 accumulation
    # steps, weighs tokens of short micro-batches more than the step-level token-mean does
    logp, old, ref, adv, mask = _batch()
    full, _ = policy_loss(logp, old, adv, mask)
    (g_full,) = torch.autograd.grad(full, logp)
    wrong = (
        sum(
            policy_loss(logp[i : i + 2], old[i : i + 2], adv[i : i + 2], mask[i : i + 2])[0]
            for i in range(0, 8, 2)
        )
        / 4
    )
    (g_wrong,) = torch.autograd.grad(wrong, logp)
    assert not torch.allclose(g_wrong, g_full, atol=1e-6)
