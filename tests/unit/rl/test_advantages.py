"""group_advantages: every estimator and scale against hand-computed values."""

import math

import pytest
import torch

from r1cli.rl import group_advantages

# Three groups of G = 4:  A = [1,0,0,0]  B = [1,1,0,1]  C = [0,0,0,0]
REWARDS = [1.0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0]
# Group means 0.25, 0.75, 0 -> R - mean_g:
CENTERED = [0.75, -0.25, -0.25, -0.25, 0.25, 0.25, -0.75, 0.25, 0, 0, 0, 0]


def close(actual, expected, tol=1e-5):
    assert torch.allclose(actual, torch.tensor(expected, dtype=actual.dtype), atol=tol, rtol=0), actual


def test_grpo_group_scale():
    # group A: squares .5625 + 3*.0625 = .75, sample var .75/3 = .25, std .5 -> .75/.5 = 1.5, -.25/.5 = -.5
    # group B mirrors A; group C is constant -> exactly 0
    adv = group_advantages(REWARDS, 4, eps=0.0)
    close(adv, [1.5, -0.5, -0.5, -0.5, 0.5, 0.5, -1.5, 0.5, 0, 0, 0, 0])
    assert (adv[8:] == 0).all()


def test_grpo_eps_in_denominator():
    # .75 / (.5 + .25) = 1.0 ; -.25 / .75 = -1/3
    adv = group_advantages([1.0, 0, 0, 0], 4, eps=0.25)
    close(adv, [1.0, -1 / 3, -1 / 3, -1 / 3])


def test_grpo_non_binary_group_of_two():
    # [3, 1]: mean 2, sample std sqrt((1+1)/1) = sqrt(2) -> +-1/sqrt(2) = +-0.707107
    close(group_advantages([3.0, 1.0], 2, eps=0.0), [0.707107, -0.707107])


def test_grpo_scale_batch():
    # four 1s and eight 0s: mean 1/3; squares 4*(2/3)^2 + 8*(1/3)^2 = 24/9; sample var (24/9)/11 = 8/33
    # std = sqrt(8/33) = 0.492366 -> .75/.492366 = 1.523257, .25/.492366 = 0.507752
    adv = group_advantages(REWARDS, 4, scale="batch", eps=0.0)
    close(adv, [x / math.sqrt(8 / 33) for x in CENTERED])
    close(adv[:2], [1.523257, -0.507752])


def test_grpo_scale_none_is_dr_grpo():
    close(group_advantages(REWARDS, 4, scale="none"), CENTERED)


def test_rloo():
    # A_i = R_i - (S - R_i)/(G-1); group A S=1: 1 - 0 = 1, 0 - 1/3 = -1/3
    # group B S=3: 1 - 2/3 = 1/3, 0 - 3/3 = -1 ; group C: 0
    adv = group_advantages(REWARDS, 4, estimator="rloo")
    close(adv, [1, -1 / 3, -1 / 3, -1 / 3, 1 / 3, 1 / 3, -1, 1 / 3, 0, 0, 0, 0])
    # equals G/(G-1) * (R - mean): 4/3 * .75 = 1
    close(adv, [4 / 3 * x for x in CENTERED])


def test_reinforce_pp_baseline():
    # centered values have mean 0; squares .75 + .75 = 1.5; sample var 1.5/11 = 0.136364, std 0.369274
    # .75/.369274 = 2.031010 ; .25/.369274 = 0.677003
    adv = group_advantages(REWARDS, 4, estimator="reinforce++-baseline", eps=0.0)
    close(adv[:2], [2.031010, -0.677003])
    close(adv, [x / math.sqrt(1.5 / 11) for x in CENTERED])
    assert abs(float(adv.mean())) < 1e-6 and abs(float(adv.std()) - 1.0) < 1e-5


def test_reinforce_pp_whitening_removes_batch_mean_shift():
    # the group-mean subtraction already centres each group, so adding 10 to every reward changes nothing
    a = group_advantages(REWARDS, 4, estimator="reinforce++-baseline")
    b = group_advantages([r + 10 for r in REWARDS], 4, estimator="reinforce++-baseline")
    close(a, b.tolist(), tol=1e-4)


def test_all_equal_rewards_give_exact_zeros():
    for est, scale in [
        ("grpo", "group"),
        ("grpo", "batch"),
        ("grpo", "none"),
        ("rloo", "group"),
        ("reinforce++-baseline", "group"),
    ]:
        adv = group_advantages([0.1] * 6, 3, estimator=est, scale=scale)
        assert (adv == 0).all(), (est, scale, adv)


def test_group_size_one():
    # a group of one: R - mean_g = 0, the undefined std is never divided by -> zeros, no NaN
    for scale in ("group", "batch", "none"):
        assert (group_advantages([1.0, 0.0, 0.5], 1, scale=scale) == 0).all()
    assert (group_advantages([1.0, 0.0], 1, estimator="reinforce++-baseline") == 0).all()
    with pytest.raises(ValueError, match="rloo.*group_size >= 2"):
        group_advantages([1.0, 0.0], 1, estimator="rloo")


def test_dtype_kept_and_int_input():
    assert group_advantages(torch.tensor([1.0, 0.0], dtype=torch.float64), 2).dtype == torch.float64
    close(group_advantages(torch.tensor([1, 0]), 2, scale="none"), [0.5, -0.5])
    assert group_advantages([], 4).numel() == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(rewards=[1.0, 0, 0], group_size=2), "not divisible by group_size"),
        (dict(rewards=[1.0, 0], group_size=0), "group_size must be a positive integer"),
        (dict(rewards=[1.0, 0], group_size=2, estimator="grop"), "did you mean 'grpo'"),
        (dict(rewards=[1.0, 0], group_size=2, scale="batchh"), "unknown advantage scale"),
        (
            dict(rewards=[1.0, 0], group_size=2, estimator="rloo", scale="none"),
            "only applies to estimator='grpo'",
        ),
        (dict(rewards=[[1.0, 0]], group_size=2), "1-D"),
        (dict(rewards=[1.0, float("nan")], group_size=2), "NaN"),
        (dict(rewards=[1.0, 0], group_size=2, eps=-1), "eps"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        group_advantages(**kwargs)


def test_reinforce_family_by_hand():
    r = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0])  # two groups of 3; batch mean 4/6
    assert group_advantages(r, 3, estimator="reinforce").tolist() == r.tolist()  # the return itself
    assert group_advantages(r, 3, estimator="reinforce-batch").tolist() == pytest.approx(
        [1 / 3, -2 / 3, -2 / 3, 1 / 3, 1 / 3, 1 / 3])  # the constant group keeps a signal: the baseline is the batch's
    assert group_advantages(r, 3, estimator="reinforce-ema", baseline=0.25).tolist() == pytest.approx(
        [0.75, -0.25, -0.25, 0.75, 0.75, 0.75])
    # no history yet: the batch mean
    assert group_advantages(r, 3, estimator="reinforce-ema").tolist() == pytest.approx(
        group_advantages(r, 3, estimator="reinforce-batch").tolist())


def test_ema_baseline_by_hand():
    from r1cli.rl import ema_baseline

    assert ema_baseline(None, [1.0, 0.0]) == pytest.approx(0.5)  # first step: the batch mean
    assert ema_baseline(0.5, [1.0, 1.0], decay=0.9) == pytest.approx(0.9 * 0.5 + 0.1 * 1.0)
    assert ema_baseline(0.5, [], decay=0.9) == 0.5
    with pytest.raises(ValueError, match="decay"):
        ema_baseline(0.5, [1.0], decay=1.0)
