"""GRPO update glue on a tiny in-memory Qwen2: padding layout, log-probs, masking, micro-batching."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")

from r1cli.train.distributed import DistributedContext  # noqa: E402
from r1cli.train.engine import TorchEngine  # noqa: E402
from r1cli.train.grpo_update import (  # noqa: E402
    build_batch,
    fill_none_rewards,
    micro_batches,
    micro_steps_per_update,
    row_slice,
    run_updates,
    sequence_logprobs,
)

PROMPTS = [[5, 6, 7], [8, 9], [10, 11, 12], [13]]
COMPS = [[20, 21, 1], [22, 1], [23, 24, 25, 26], [27]]


def test_build_batch_layout():
    b = build_batch([[5, 6, 7], [8]], [[20, 1], [21, 22, 23]], pad_id=0, rollout_logprobs=[[-1.0, -2.0], None])
    # rows are prompt + completion from column 0, right-padded to the longest (3 + 2 = 1 + 3 + 1 = 5)
    assert b.input_ids.tolist() == [[5, 6, 7, 20, 1], [8, 21, 22, 23, 0]]
    assert b.completion_start.tolist() == [3, 1]
    assert b.completion_ids.tolist() == [[20, 1, 0], [21, 22, 23]]
    assert b.completion_mask.tolist() == [[True, True, False], [True, True, True]]
    assert b.row_lengths() == [5, 4]
    assert b.rollout_logp is None  # one row had no log-probs


def test_row_slice_trims_and_indexes_completion_positions():
    b = build_batch([[5, 6, 7], [8]], [[20, 1], [21, 22, 23]], pad_id=0)
    sl = row_slice(b, torch.tensor([0]))
    # completion tokens at columns 3, 4 are predicted by positions 2, 3; keep positions 2..4
    assert sl.inputs["input_ids"].tolist() == [[5, 6, 7, 20, 1]]
    assert (sl.keep, sl.width, sl.index.tolist()) == (3, 2, [[0, 1]])
    sl = row_slice(b, torch.tensor([0, 1]))
    # first predicting position = min(3, 1) - 1 = 0; row 0 starts at kept index 2, row 1 at 0
    assert (sl.keep, sl.width) == (5, 3)
    assert sl.index.tolist() == [[2, 3, 4], [0, 1, 2]]  # row 0's third index is padding (clamped)


def _manual_logprobs(model, prompt, comp, temperature=1.0):
    ids = torch.tensor([prompt + comp])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, len(prompt) - 1:-1] / temperature  # [len(comp), V]
    return torch.log_softmax(logits.float(), -1).gather(-1, torch.tensor(comp).unsqueeze(-1)).squeeze(-1)


def test_sequence_logprobs_match_unpadded_forward(tiny_model_factory):
    model = tiny_model_factory(0).eval()
    b = build_batch(PROMPTS, COMPS, pad_id=0)
    for mbs in (None, 1, 3):
        lp = sequence_logprobs(model, b, temperature=0.7, micro_batch_size=mbs)
        for i, (p, c) in enumerate(zip(PROMPTS, COMPS, strict=True)):
            torch.testing.assert_close(lp[i, :len(c)], _manual_logprobs(model, p, c, 0.7), atol=1e-5, rtol=1e-5)
            assert torch.all(lp[i, len(c):] == 0)


def test_fill_none_rewards_uses_group_mean():
    # group 1: [1, None] -> mean of judged = 1; group 2: [0, 0.5]; group 3: all None -> 0
    rewards, judged = fill_none_rewards([1.0, None, 0.0, 0.5, None, None], 2)
    assert rewards == [1.0, 1.0, 0.0, 0.5, 0.0, 0.0]
    assert judged == [True, False, True, True, False, False]


def test_micro_batches():
    assert micro_batches([0, 1, 2, 3, 4], 2) == [[0, 1], [2, 3], [4]]
    assert micro_batches([0, 1], None) == [[0, 1]]
    assert micro_batches([], 2) == []


def test_micro_batches_by_token_budget():
    lengths = [10, 40, 12, 38, 11, 9]
    # longest first: 1 (40), 3 (38), 2 (12), 4 (11), 0 (10), 5 (9); budget 80:
    # [1, 3] -> 2 x 40 = 80; adding 2 -> 3 x 40 > 80, so a new batch [2, 4, 0, 5] -> 4 x 12 = 48
    assert micro_batches([0, 1, 2, 3, 4, 5], None, lengths, 80) == [[1, 3], [2, 4, 0, 5]]
    # a row cap of 3 also applies
    assert micro_batches([0, 1, 2, 3, 4, 5], 3, lengths, 80) == [[1, 3], [2, 4, 0], [5]]
    # a row longer than the budget still gets its own micro-batch
    assert micro_batches([0, 1], None, [100, 5], 50) == [[0], [1]]


def _cfg(**kw):
    base = dict(iterations=1, mini_batches=1, micro_batch_size=None, micro_batch_tokens=None, clip_low=0.2, clip_high=0.2, dual_clip=None,
                ratio_level="token", beta=0.0, kl="k3", kl_placement="loss", loss_agg="token-mean",
                entropy_coef=0.0, importance_sampling_mode="truncate", importance_sampling_max=2.0,
                importance_sampling_min=None, skip_zero_advantage=False)
    base.update(kw)
    return SimpleNamespace(**base)


def _engine(model, lr=1.0):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    return TorchEngine(model, opt, sched, DistributedContext(), bf16=False, max_grad_norm=None)


def _update(model, batch, adv, keep, uniform=None, **kw):
    before = [p.detach().clone() for p in model.parameters()]
    stats = run_updates(_engine(model), batch, adv, keep, g=_cfg(**kw), temperature=1.0, norm_len=8.0,
                        ctx=DistributedContext(), step=0, micro_steps=(lambda n: uniform) if uniform else None)
    return [b - p.detach() for b, p in zip(before, model.parameters(), strict=True)], stats  # = lr * grad


@pytest.mark.parametrize("agg", ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"])
@pytest.mark.parametrize("split", [{"micro_batch_size": 1}, {"micro_batch_tokens": 14}])
def test_micro_batching_gives_the_same_update(tiny_model_factory, agg, split):
    batch = build_batch(PROMPTS, COMPS, pad_id=0)
    adv = torch.tensor([1.0, -0.5, 0.25, -1.0])
    keep = torch.ones(4, dtype=torch.bool)
    whole, _ = _update(tiny_model_factory(1), batch, adv, keep, loss_agg=agg)
    parts, stats = _update(tiny_model_factory(1), batch, adv, keep, loss_agg=agg, **split)
    for a, b in zip(whole, parts, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    assert stats["optimizer_steps"] == 1


def test_padding_micro_steps_change_nothing(tiny_model_factory):
    batch = build_batch(PROMPTS, COMPS, pad_id=0)
    adv, keep = torch.tensor([1.0, -0.5, 0.25, -1.0]), torch.ones(4, dtype=torch.bool)
    plain, _ = _update(tiny_model_factory(6), batch, adv, keep, micro_batch_size=2)
    padded, _ = _update(tiny_model_factory(6), batch, adv, keep, micro_batch_size=2, uniform=5)  # 2 real + 3 empty
    for a, b in zip(plain, padded, strict=True):
        torch.testing.assert_close(a, b, atol=1e-7, rtol=0)


def test_micro_steps_per_update():
    assert micro_steps_per_update(64, 2, 8) == 4  # 32 rows per update / 8
    assert micro_steps_per_update(60, 4, 8) == 2  # 15 rows per update -> ceil(15 / 8)
    assert micro_steps_per_update(64, 2, None) == 1


def test_masked_row_equals_removed_row_under_token_mean(tiny_model_factory):
    adv = torch.tensor([1.0, -0.5, 0.25, -1.0])
    full = build_batch(PROMPTS, COMPS, pad_id=0)
    keep = torch.tensor([True, True, False, True])
    masked, _ = _update(tiny_model_factory(2), full, adv, keep)
    rows = [0, 1, 3]
    small = build_batch([PROMPTS[i] for i in rows], [COMPS[i] for i in rows], pad_id=0)
    removed, _ = _update(tiny_model_factory(2), small, adv[rows], torch.ones(3, dtype=torch.bool))
    for a, b in zip(masked, removed, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_zero_advantages_give_no_update(tiny_model_factory):
    batch = build_batch(PROMPTS, COMPS, pad_id=0)
    delta, stats = _update(tiny_model_factory(3), batch, torch.zeros(4), torch.ones(4, dtype=torch.bool))
    assert all(float(d.abs().max()) == 0.0 for d in delta)
    assert stats["loss"] == 0.0 and stats["clip_frac_low"] == 0.0


def test_mu_and_mini_batches_take_several_steps_with_frozen_old_logprobs(tiny_model_factory):
    model = tiny_model_factory(4)
    batch = build_batch(PROMPTS, COMPS, pad_id=0)
    old = sequence_logprobs(model, batch, temperature=1.0, micro_batch_size=None)
    stats = run_updates(_engine(model, 0.5), batch, torch.tensor([1.0, -1.0, 1.0, -1.0]),
                        torch.ones(4, dtype=torch.bool), g=_cfg(iterations=2, mini_batches=2), temperature=1.0,
                        norm_len=8.0, ctx=DistributedContext(), step=0, old_logp=old)
    assert stats["optimizer_steps"] == 4  # μ = 2 passes × 2 mini-batches
    assert stats["ratio_mean"] != 1.0  # later steps see π_θ ≠ π_old


def test_rollout_logprob_gap_is_reported(tiny_model_factory):
    model = tiny_model_factory(5)
    b0 = build_batch(PROMPTS, COMPS, pad_id=0)
    exact = sequence_logprobs(model, b0, temperature=1.0, micro_batch_size=None)
    shifted = [(exact[i, :len(c)] - 0.1).tolist() for i, c in enumerate(COMPS)]
    batch = build_batch(PROMPTS, COMPS, pad_id=0, rollout_logprobs=shifted)
    _, stats = _update(model, batch, torch.tensor([1.0, -1.0, 1.0, -1.0]), torch.ones(4, dtype=torch.bool))
    assert stats["logp_gap_mean"] == pytest.approx(0.1, abs=1e-5)


def test_update_moves_log_probs_the_way_of_the_advantage(tiny_model_factory):
    model = tiny_model_factory(7)
    batch = build_batch(PROMPTS, COMPS, pad_id=0)
    before = sequence_logprobs(model, batch, temperature=1.0, micro_batch_size=None).sum(-1)  # [4]
    adv = torch.tensor([1.0, -1.0, 1.0, -1.0])
    engine = _engine(model, 0.05)
    run_updates(engine, batch, adv, torch.ones(4, dtype=torch.bool), g=_cfg(), temperature=1.0, norm_len=8.0,
                ctx=DistributedContext(), step=0)
    after = sequence_logprobs(model, batch, temperature=1.0, micro_batch_size=None).sum(-1)
    delta = after - before
    assert delta[0] > 0 and delta[2] > 0  # A > 0: more likely
    assert delta[1] < 0 and delta[3] < 0  # A < 0: less likely


# 3 groups of G = 2 sharing prompts, with different prompt and completion lengths
GP = [[5, 6, 7], [5, 6, 7], [8, 9], [8, 9], [10, 11, 12, 13], [10, 11, 12, 13]]
GC = [[20, 21, 1], [22, 1], [23, 24, 25, 26], [27], [28], [29, 30]]


def test_shared_prompt_logits_equal_the_plain_forward(tiny_model_factory):
    from r1cli.train.grpo_update import completion_logits, shared_prompt_logits

    model = tiny_model_factory(8).eval()
    batch = build_batch(GP, GC, pad_id=0, group_size=2)
    rows = list(range(6))
    shared, width = shared_prompt_logits(model, batch, rows, 2)
    plain = completion_logits(model, row_slice(batch, torch.tensor(rows)))
    assert width == plain.shape[1] == 4
    mask = batch.completion_mask[:, :width]
    torch.testing.assert_close(shared[mask], plain[mask], atol=1e-5, rtol=1e-5)


def test_width_buckets_minimise_padding_plus_overhead():
    from r1cli.train.grpo_update import width_buckets

    assert width_buckets([3, 1, 3, 2], overhead=0) == [[0, 2], [3], [1]]  # no padding at all
    assert width_buckets([3, 1, 3, 2], overhead=100) == [[0, 2, 3, 1]]  # one forward is cheapest
    # 40 + 8 rows: one bucket 48 x 40 = 1920 + 10; two: 8 x 40 + 40 x 2 + 20 = 420
    lengths = [2] * 40 + [40] * 8
    assert sorted(map(sorted, width_buckets(lengths, overhead=10))) == [list(range(40)), list(range(40, 48))]


def test_shared_prompt_logits_in_width_buckets(tiny_model_factory, monkeypatch):
    from r1cli.train import grpo_update

    monkeypatch.setattr(grpo_update, "BUCKET_OVERHEAD_TOKENS", 0)  # every distinct length its own forward
    model = tiny_model_factory(8).eval()
    batch = build_batch(GP, GC, pad_id=0, group_size=2)
    rows = list(range(6))
    shared, width = grpo_update.shared_prompt_logits(model, batch, rows, 2)
    plain = grpo_update.completion_logits(model, row_slice(batch, torch.tensor(rows)))
    mask = batch.completion_mask[:, :width]
    torch.testing.assert_close(shared[mask], plain[mask], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("overhead", [0, 64])
@pytest.mark.parametrize("budget", [None, 20])
def test_shared_prompt_update_equals_the_plain_update(tiny_model_factory, budget, overhead, monkeypatch):
    from r1cli.train import grpo_update

    monkeypatch.setattr(grpo_update, "BUCKET_OVERHEAD_TOKENS", overhead)
    adv = torch.tensor([1.0, -1.0, 0.5, -0.5, 2.0, -2.0])
    keep = torch.ones(6, dtype=torch.bool)
    batch = build_batch(GP, GC, pad_id=0, group_size=2)
    plain, _ = _update(tiny_model_factory(9), batch, adv, keep)
    model = tiny_model_factory(9)
    before = [p.detach().clone() for p in model.parameters()]
    run_updates(_engine(model), batch, adv, keep, g=_cfg(micro_batch_tokens=budget), temperature=1.0, norm_len=8.0,
                ctx=DistributedContext(), step=0, share_prompts=True)
    shared = [b - p.detach() for b, p in zip(before, model.parameters(), strict=True)]
    for a, b in zip(plain, shared, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_group_micro_batches_keep_groups_whole():
    from r1cli.train.grpo_update import group_micro_batches

    batch = build_batch(GP, GC, pad_id=0, group_size=2)
    # group costs P + C_1 + C_2: g0 3 + 3 + 2 = 8, g1 2 + 4 + 1 = 7, g2 4 + 1 + 2 = 7; sorted g0, g1, g2.
    # budget 20: g0 + g1 = 15 fits, + g2 = 22 does not
    assert group_micro_batches(range(3), 2, batch, 20) == [[0, 1, 2, 3], [4, 5]]
    assert group_micro_batches(range(3), 2, batch, 7) == [[0, 1], [2, 3], [4, 5]]  # over budget: alone
    assert group_micro_batches(range(3), 2, batch, None) == [[0, 1, 2, 3, 4, 5]]


def _momentum_run(model, batch, steps, **kw):
    """Momentum-SGD steps over ``steps`` = [(advantages, keep), ...]; returns the final parameters.

    Momentum, so a step with a zero gradient still moves the weights (as Adam would); SGD, so float
    noise in near-zero gradients is not blown up by Adam's normalisation."""
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    engine = TorchEngine(model, opt, sched, DistributedContext(), bf16=False, max_grad_norm=1.0)
    share = kw.pop("share_prompts", False)
    for step, (adv, keep) in enumerate(steps):
        run_updates(engine, batch, adv, keep, g=_cfg(**kw), temperature=1.0, norm_len=8.0,
                    ctx=DistributedContext(), step=step, share_prompts=share)
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("share", [False, True])
@pytest.mark.parametrize("agg", ["token-mean", "seq-mean-token-mean"])
def test_skipping_zero_advantage_rows_leaves_the_update_unchanged(tiny_model_factory, share, agg):
    batch = build_batch(GP, GC, pad_id=0, group_size=2)
    keep = torch.ones(6, dtype=torch.bool)
    masked = torch.tensor([True, True, False, True, True, True])  # row 2 out of the loss
    steps = [
        (torch.tensor([1.0, -1.0, 0.0, 0.0, 2.0, -2.0]), keep),  # group 1 all equal: skipped
        (torch.tensor([0.0, 0.0, 0.5, -0.5, 0.0, 0.0]), masked),  # group 1 partly masked, the rest skipped
        (torch.zeros(6), keep),  # nothing to train on: the optimizer still moves on its momentum
    ]
    full = _momentum_run(tiny_model_factory(4), batch, steps, loss_agg=agg, share_prompts=share)
    skipped = _momentum_run(tiny_model_factory(4), batch, steps, loss_agg=agg, share_prompts=share,
                        skip_zero_advantage=True)
    moved = _momentum_run(tiny_model_factory(4), batch, steps[:2], loss_agg=agg, share_prompts=share)
    for a, b in zip(full, skipped, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    assert any(not torch.equal(a, b) for a, b in zip(full, moved, strict=True))  # the empty step moved them


def test_skip_zero_advantage_is_off_with_a_kl_term_or_entropy_bonus(tiny_model_factory):
    batch = build_batch(GP, GC, pad_id=0, group_size=2)
    keep = torch.ones(6, dtype=torch.bool)
    adv = torch.tensor([1.0, -1.0, 0.0, 0.0, 0.0, 0.0])
    for kw in ({"entropy_coef": 0.1}, {"beta": 0.1, "kl": "k3"}):
        ref = None
        if "beta" in kw:
            ref = sequence_logprobs(tiny_model_factory(2), batch, temperature=1.0, micro_batch_size=None) - 0.1
        outs = []
        for skip in (False, True):
            model = tiny_model_factory(4)
            before = [p.detach().clone() for p in model.parameters()]
            run_updates(_engine(model), batch, adv, keep, g=_cfg(skip_zero_advantage=skip, **kw), temperature=1.0,
                        norm_len=8.0, ctx=DistributedContext(), step=0, ref_logp=ref)
            outs.append([b - p.detach() for b, p in zip(before, model.parameters(), strict=True)])
        for a, b in zip(*outs, strict=True):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
