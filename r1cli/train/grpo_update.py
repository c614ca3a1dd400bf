"""The GRPO update on one rollout batch: tensors, log-probs, advantages, μ × mini-batch steps.

Layout of a batch of ``N`` sequences (``N`` = groups × G, group-major): each row is its prompt then its
completion, from column 0, right-padded; ``completion_start[i]`` is the prompt length ``P_i``::

    input_ids [N, L]:  p p p c c c EOS pad pad        completion_ids [N, C], completion_mask [N, C]
                       p p c c c c c   c   EOS        (1 on generated tokens, EOS included)

Right padding only: a real token never attends to a pad (pads come after it), so the forward needs no
attention mask and positions are the default ``0..L-1`` (SDPA's causal fast path). A micro-batch takes
some rows and trims unused columns; logits are projected only from the first position that predicts a
completion token (``logits_to_keep``), and position ``P_i − 1 + t`` is gathered for completion token
``t``. All math (advantages, clipped loss, KL, entropy, importance weights) comes from :mod:`r1cli.rl`.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from r1cli.errors import R1Error

if TYPE_CHECKING:
    import torch


@dataclass
class TrainBatch:
    """One rank's sequences for one step (tensors on the training device)."""

    input_ids: torch.Tensor  # [N, L] prompt + completion, right-padded
    completion_start: torch.Tensor  # [N] long, P_i
    completion_ids: torch.Tensor  # [N, C]
    completion_mask: torch.Tensor  # [N, C] bool, generated tokens
    rollout_logp: torch.Tensor | None  # [N, C] engine log-probs (None when the engine gave none)
    group_size: int = 1  # rows k·G .. k·G + G − 1 share one prompt

    @property
    def size(self) -> int:
        return int(self.input_ids.shape[0])

    def row_lengths(self) -> list[int]:
        """Per row: prompt + completion tokens (what a micro-batch of that row must hold)."""
        return (self.completion_start + self.completion_mask.sum(-1)).tolist()


def build_batch(prompt_ids: list[list[int]], completion_ids: list[list[int]], pad_id: int,
                rollout_logprobs: list[Any] | None = None, device: Any = "cpu", group_size: int = 1) -> TrainBatch:
    """Rows of prompt + completion, right-padded (see the module docstring)."""
    import torch

    n = len(prompt_ids)
    c = max(1, max((len(x) for x in completion_ids), default=0))
    width = max((len(p) + len(x) for p, x in zip(prompt_ids, completion_ids, strict=True)), default=1)
    ids = torch.full((n, max(width, 1)), pad_id, dtype=torch.long)
    comp = torch.full((n, c), pad_id, dtype=torch.long)
    cmask = torch.zeros((n, c), dtype=torch.bool)
    have_lp = rollout_logprobs is not None and all(x is not None for x in rollout_logprobs)
    rlp = torch.zeros((n, c), dtype=torch.float32) if have_lp else None
    for i, (pi, ci) in enumerate(zip(prompt_ids, completion_ids, strict=True)):
        row = list(pi) + list(ci)
        if row:
            ids[i, :len(row)] = torch.tensor(row, dtype=torch.long)
        if ci:
            comp[i, :len(ci)] = torch.tensor(ci, dtype=torch.long)
            cmask[i, :len(ci)] = True
            if rlp is not None:
                rlp[i, :len(ci)] = torch.tensor(list(rollout_logprobs[i])[:len(ci)], dtype=torch.float32)
    start = torch.tensor([max(1, len(p)) for p in prompt_ids], dtype=torch.long)
    to = (lambda t: t.to(device)) if device != "cpu" else (lambda t: t)
    return TrainBatch(to(ids), to(start), to(comp), to(cmask), to(rlp) if rlp is not None else None, group_size)


class Slice(NamedTuple):
    """Model inputs of some rows, and where their completion logits sit."""

    inputs: dict  # {"input_ids": [b, L']}
    keep: int  # positions projected to the vocabulary (the last ``keep`` of L')
    index: torch.Tensor  # [b, width] position (within the kept ones) predicting completion token t
    width: int  # trimmed completion width C'


def row_slice(batch: TrainBatch, rows: torch.Tensor) -> Slice:
    """Inputs of ``rows`` with unused columns trimmed; per-row ``[N, C]`` tensors are cut ``[rows, :width]``."""
    import torch

    starts = batch.completion_start[rows]  # [b]
    lengths = batch.completion_mask[rows].sum(-1)  # [b]
    width = max(1, int(lengths.max())) if lengths.numel() else 1
    total = max(1, int((starts + lengths).max()))  # L'
    first = int(starts.min()) - 1  # first position that predicts a completion token
    t = torch.arange(width, device=starts.device)
    index = (starts.unsqueeze(1) - 1 - first + t).clamp(max=total - 1 - first)  # [b, width]
    return Slice({"input_ids": batch.input_ids[rows, :total]}, total - first, index, width)


def completion_logits(runner: Any, sl: Slice) -> torch.Tensor:
    """Logits ``[b, width, V]`` predicting the completion tokens of a slice.

    ``runner``: a bare model, or an engine (its ``forward`` runs DDP/DeepSpeed and bf16 autocast).
    """
    from r1cli.train.distributed import unwrap_model

    bare = unwrap_model(getattr(runner, "module", runner))
    keep_kw = getattr(bare, "_r1_keep_kw", None)
    if keep_kw is None:
        keep_kw = "logits_to_keep" if "logits_to_keep" in inspect.signature(bare.forward).parameters else ""
        bare._r1_keep_kw = keep_kw
    kwargs = {"use_cache": False, **({keep_kw: sl.keep} if keep_kw else {})}
    if hasattr(runner, "backward"):  # an engine
        out = runner.forward({**sl.inputs, **kwargs})
    else:
        out = runner(**sl.inputs, **kwargs)
    logits = out.logits[:, -sl.keep:, :]  # [b, keep, V]
    if sl.index.shape[1] == logits.shape[1] and bool((sl.index[:, 0] == 0).all()):
        return logits  # every row starts at the first kept position: no gather needed
    idx = sl.index.unsqueeze(-1).expand(-1, -1, logits.shape[-1])  # [b, width, V]
    return logits.gather(1, idx)


def micro_batches(rows: list[int], size: int | None, lengths: list[int] | None = None,
                  token_budget: int | None = None) -> list[list[int]]:
    """Split ``rows`` into micro-batches.

    Without a ``token_budget``: consecutive chunks of ``size`` rows (one chunk when ``size`` is None).
    With one (and ``lengths``, the padded-row length of each row index): rows sorted longest first and
    packed greedily while ``rows × longest ≤ token_budget`` (and at most ``size`` rows), so rows of
    similar length share a micro-batch and little compute goes to padding. The update does not depend
    on the split: the loss normalisers are those of the whole optimizer step.
    """
    if not rows:
        return []
    if token_budget is None or lengths is None:
        size = size or len(rows)
        return [rows[i:i + size] for i in range(0, len(rows), size)]
    out: list[list[int]] = []
    current: list[int] = []
    for r in sorted(rows, key=lambda r: -lengths[r]):
        width = lengths[current[0]] if current else lengths[r]
        if current and ((len(current) + 1) * width > token_budget or (size and len(current) >= size)):
            out.append(current)
            current = []
        current.append(r)
    out.append(current)
    return out


def sequence_logprobs(model: Any, batch: TrainBatch, *, temperature: float, micro_batch_size: int | None,
                      token_budget: int | None = None) -> torch.Tensor:
    """``[N, C]`` log-probs of the completion tokens under ``model`` (no gradient; 0 on padding)."""
    import torch

    from r1cli.rl import token_logprobs

    out = torch.zeros(batch.completion_ids.shape, dtype=torch.float32, device=batch.completion_ids.device)
    with torch.no_grad():
        for rows in micro_batches(list(range(batch.size)), micro_batch_size, batch.row_lengths(), token_budget):
            idx = torch.tensor(rows, device=batch.input_ids.device)
            sl = row_slice(batch, idx)
            c1 = sl.width
            logits = completion_logits(model, sl)
            lp = token_logprobs(logits, batch.completion_ids[idx, :c1], temperature=temperature)
            out[idx, :c1] = torch.where(batch.completion_mask[idx, :c1], lp, torch.zeros_like(lp))
    return out


def fill_none_rewards(rewards: list[float | None], group_size: int) -> tuple[list[float], list[bool]]:
    """Replace ``None`` rewards by their group's mean of judged ones; return ``(rewards, judged)``.

    The group mean is unchanged, so the others' advantages barely move; the unjudged completions are
    masked out of the loss by the caller. A group with no judged reward gets all 0 (no signal).
    """
    out: list[float] = []
    judged = [r is not None for r in rewards]
    for start in range(0, len(rewards), group_size):
        chunk = rewards[start:start + group_size]
        vals = [r for r in chunk if r is not None]
        mean = sum(vals) / len(vals) if vals else 0.0
        out.extend(float(r) if r is not None else mean for r in chunk)
    return out, judged


def check_finite(value: float, what: str, step: int) -> None:
    import math

    if not math.isfinite(value):
        raise R1Error(f"step {step}: the {what} is {value}; stopping (the last checkpoint is intact). Lower "
                      "train.learning_rate or check the rewards")


def group_micro_batches(groups: Iterable[int], group_size: int, batch: TrainBatch, token_budget: int | None
                        ) -> list[list[int]]:
    """Whole ``groups`` (group indices) per micro-batch for the shared-prompt forward; returns row indices.

    A group costs ``P + Σ C_i`` tokens (its prompt once, its completions in width buckets); groups are
    sorted by cost and packed greedily while the summed cost stays within ``token_budget`` (all in one
    micro-batch without one; a group over the budget goes alone).
    """
    starts = batch.completion_start.tolist()
    comp = batch.completion_mask.sum(-1).tolist()
    chosen = list(groups)
    cost = {k: starts[k * group_size] + sum(max(1, c) for c in comp[k * group_size:(k + 1) * group_size])
            for k in chosen}
    out: list[list[int]] = []
    current: list[int] = []
    used = 0
    for k in sorted(chosen, key=lambda k: -cost[k]):
        if current and token_budget is not None and used + cost[k] > token_budget:
            out.append(current)
            current, used = [], 0
        current.append(k)
        used += cost[k]
    if current:
        out.append(current)
    return [[k * group_size + j for k in part for j in range(group_size)] for part in out]


# what one more forward/backward costs, in tokens of compute (CPU, small models; measured roughly)
BUCKET_OVERHEAD_TOKENS = 64


def width_buckets(lengths: list[int], overhead: int | None = None) -> list[list[int]]:
    """Split positions ``0..n-1`` into buckets of similar ``lengths`` to cut padding.

    Minimises ``Σ rows(bucket) × max length(bucket) + overhead × buckets`` exactly (dynamic programming
    over the rows sorted longest first); ``overhead`` is what one more forward costs, in tokens. Rows of
    equal length never gain from being split, so buckets are cut only where the length changes: the
    work is quadratic in the number of distinct lengths, not of rows.
    """
    overhead = BUCKET_OVERHEAD_TOKENS if overhead is None else overhead
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    # cut points: sorted positions where a new (shorter) length starts, and the end
    cuts = [k for k in range(len(order)) if k == 0 or lengths[order[k]] != lengths[order[k - 1]]] + [len(order)]
    d = len(cuts) - 1
    best = [0.0] + [float("inf")] * d  # best[b]: cost of the sorted rows before cuts[b]
    back = [0] * (d + 1)
    for b in range(1, d + 1):
        for a in range(b):  # bucket = sorted rows cuts[a]..cuts[b]-1, its width that of row cuts[a]
            cost = best[a] + (cuts[b] - cuts[a]) * lengths[order[cuts[a]]] + overhead
            if cost < best[b]:
                best[b], back[b] = cost, a
    out: list[list[int]] = []
    b = d
    while b > 0:
        out.append(order[cuts[back[b]]:cuts[b]])
        b = back[b]
    return out[::-1]


def _cache_rows(cache: Any, index: Any, config: Any) -> Any:
    """A new cache holding the rows ``index`` of ``cache`` (differentiable; the source is left as is)."""
    from r1cli.generation.hf import new_dynamic_cache

    new = new_dynamic_cache(config)
    for layer, entry in enumerate(cache.layers):
        new.update(entry.keys[index], entry.values[index], layer)
    return new


def shared_prompt_logits(model: Any, batch: TrainBatch, rows: list[int], group_size: int) -> tuple[Any, int]:
    """Completion logits ``[b·G, C', V]`` of whole groups, running each group's prompt once.

    The prompts (left-padded) go through the model with a KV cache; the completions run on top of the
    cache rows of their prompt, so the prompt tokens cost one forward per group instead of G. The
    completions themselves go in width buckets (:func:`width_buckets`: short ones are not padded to the
    longest). The logit predicting completion token 0 comes from the prompt's last position. Gradients
    flow through the cache into the prompt forward, so the result equals :func:`completion_logits` on
    the same rows (at padding positions the logits are 0).
    """
    import torch

    dev = batch.input_ids.device
    idx = torch.tensor(rows, dtype=torch.long, device=dev)
    heads = rows[::group_size]
    starts = [int(batch.completion_start[r]) for r in heads]
    lengths = batch.completion_mask[idx].sum(-1).tolist()
    width = max(1, max(lengths))
    p = max(starts)
    prompt = torch.zeros((len(heads), p), dtype=torch.long, device=dev)
    pmask = torch.zeros((len(heads), p), dtype=torch.long, device=dev)
    for i, (r, s) in enumerate(zip(heads, starts, strict=True)):
        prompt[i, p - s:] = batch.input_ids[r, :s]
        pmask[i, p - s:] = 1
    ppos = (pmask.cumsum(-1) - 1).clamp(min=0)  # [g, P]
    out = model(input_ids=prompt, attention_mask=pmask, position_ids=ppos, use_cache=True, logits_to_keep=1)
    first = out.logits[:, -1:, :].repeat_interleave(group_size, dim=0)  # [b, 1, V] predicts token 0
    if width == 1:
        return first, width
    cache = out["cache"] if "cache" in out else out["past_key_values"]  # transformers >= 5.2x renamed it
    cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    rest = first.new_zeros((len(rows), width - 1, first.shape[-1]))  # [b, C' - 1, V]
    for bucket in width_buckets([max(1, n) for n in lengths]):
        w = max(1, max(lengths[i] for i in bucket))
        if w == 1:
            continue  # completions of one token: all their logits come from the prompt
        local = torch.tensor(bucket, dtype=torch.long, device=dev)
        group = local // group_size
        comp = batch.completion_ids[idx[local], :w - 1]  # tokens 0..w-2 predict 1..w-1
        mask = torch.cat([pmask[group], torch.ones_like(comp)], dim=1)
        pos = ppos[group, -1:] + 1 + torch.arange(w - 1, device=dev)
        sub = _cache_rows(cache, group, model.config)
        logits = model(input_ids=comp, attention_mask=mask, position_ids=pos, use_cache=True,
                       **{cache_kw: sub}).logits  # [k, w - 1, V]
        rest = rest.index_put((local,), torch.nn.functional.pad(logits, (0, 0, 0, width - w)))
    return torch.cat([first, rest], dim=1), width


def micro_steps_per_update(rows_per_rank: int, mini_batches: int, micro_batch_size: int | None) -> int:
    """Micro-batches of one optimizer step when the rollout is full: ``ceil(rows / m / micro)``.

    Under DDP/DeepSpeed every rank runs exactly this many (padding with empty micro-batches when it
    holds fewer rows, e.g. after a dynamic-sampling shortfall), so collectives line up.
    """
    per_update = -(-rows_per_rank // mini_batches)
    return max(1, -(-per_update // micro_batch_size)) if micro_batch_size else 1


def run_updates(engine: Any, batch: TrainBatch, advantages: torch.Tensor, row_keep: torch.Tensor, *, g: Any,
                temperature: float, norm_len: float, ctx: Any, step: int, old_logp: torch.Tensor | None = None,
                ref_logp: torch.Tensor | None = None, is_level: str | None = None, seed: int = 0,
                micro_steps: Any = None, share_prompts: bool = False) -> dict[str, float]:
    """μ passes over ``batch``, each split into ``g.mini_batches`` optimizer steps; return step stats.

    ``engine``: :mod:`r1cli.train.engine` (plain, DDP or DeepSpeed) — ``forward``, ``backward(loss,
    sync)``, ``step() -> grad norm``, ``lr()``. ``advantages[N]`` (one per sequence) or ``[N, C]`` (one per
    token, PPO); ``row_keep[N]`` (False rows are masked
    out of the loss but still count as sequences of the step); ``old_logp``/``ref_logp`` ``[N, C]`` or
    None (then π_old is the current policy, detached). ``is_level`` turns on importance weights against
    the rollout engine's log-probs. ``micro_steps(n) -> k``: how many micro-batches to run when this
    rank has ``n`` for an optimizer step (DDP: the most of any rank; DeepSpeed: its fixed accumulation
    count); the extra ones are empty. Micro-batches follow ``g.micro_batch_size`` and the token budget
    ``g.micro_batch_tokens``. ``share_prompts`` (one process, one pass, one mini-batch, G > 1): whole
    groups per micro-batch, each prompt run once (:func:`shared_prompt_logits`). Each micro-batch loss uses the step's normalisers summed over
    ranks and is multiplied by the world size, because DDP and ZeRO average gradients over ranks.
    Stats: token-weighted means over micro-batches and ranks, the last grad norm, lr, the mean loss.
    """
    import torch

    from r1cli.rl import aggregate, entropy_from_logits, importance_weights, policy_loss, token_logprobs

    n, dev = batch.size, batch.input_ids.device
    gen = torch.Generator().manual_seed(seed * 1_000_003 + step)
    # a fixed key set, so that ranks with no rows this step still reduce the same list
    keys = ["clip_frac_low", "clip_frac_high", "clip_frac_dual", "ratio_mean", "kl_mean", "entropy"]
    if batch.rollout_logp is not None:
        keys += ["logp_gap_mean"] + (["is_weight_mean", "is_clipped_frac"] if is_level else [])
    sums = dict.fromkeys(keys, 0.0)
    weights = dict.fromkeys(keys, 0.0)
    grad_norms: list[float] = []
    beta_loss = g.beta if g.kl_placement == "loss" else 0.0
    loss_total = 0.0

    def add(key: str, value: float, weight: float) -> None:
        sums[key] += value * weight
        weights[key] += weight

    lengths = batch.row_lengths()
    # rows that can change the gradient: with no KL term in the loss and no entropy bonus, a row whose
    # advantage is exactly 0 (or that is masked out) has a loss of exactly 0 whatever its ratio
    skip = g.skip_zero_advantage and beta_loss == 0 and not g.entropy_coef
    nonzero = advantages != 0 if advantages.dim() == 1 else (advantages != 0).any(-1)  # [N]
    live = (nonzero & row_keep).tolist() if skip else [True] * n
    share = (share_prompts and batch.group_size > 1 and g.iterations == 1 and g.mini_batches == 1
             and micro_steps is None and n % batch.group_size == 0)
    for it in range(g.iterations):
        shuffle = g.iterations > 1 or g.mini_batches > 1
        order = torch.randperm(n, generator=gen).tolist() if shuffle else list(range(n))
        chunks = [order[k * n // g.mini_batches:(k + 1) * n // g.mini_batches] for k in range(g.mini_batches)]
        for chunk in chunks:
            idx_all = torch.tensor(chunk, dtype=torch.long, device=dev)
            mask_all = batch.completion_mask[idx_all] & row_keep[idx_all].unsqueeze(1)
            tokens_in_step = ctx.all_reduce_sum(float(mask_all.sum())) or None
            seqs_in_step = ctx.all_reduce_sum(float(len(chunk))) or None
            if share:
                gs = batch.group_size
                trained = [k for k in range(n // gs) if any(live[k * gs:(k + 1) * gs])]
                runs: list[list[int] | None] = list(group_micro_batches(trained, gs, batch, g.micro_batch_tokens))
            else:
                runs = list(micro_batches([r for r in chunk if live[r]], g.micro_batch_size, lengths,
                                          g.micro_batch_tokens))
            # nothing to train on: one empty micro-step still gives every parameter a zero gradient, so
            # the optimizer steps exactly as it would on the full batch (Adam moves on its momentum)
            runs = runs or [None]
            if micro_steps is not None:
                want = micro_steps(len(runs))
                if len(runs) > want:
                    raise R1Error(f"{len(runs)} micro-batches do not fit the {want} accumulation steps of the engine; "
                                  "set grpo.micro_batch_size (not grpo.micro_batch_tokens) with DeepSpeed")
                runs += [None] * (want - len(runs))
            for k, rows in enumerate(runs):
                sync = k == len(runs) - 1
                if rows is None:  # padding micro-step: a zero loss that still touches every parameter
                    dummy = {"input_ids": batch.input_ids[:1, -1:] if n else torch.zeros((1, 1), dtype=torch.long,
                                                                                            device=dev)}
                    engine.backward(engine.forward(dummy).logits.sum() * 0.0, sync=sync)
                    continue
                idx = torch.tensor(rows, dtype=torch.long, device=dev)
                if share:
                    from r1cli.train.engine import autocast

                    with autocast(ctx.device, bool(getattr(engine, "bf16", False))):
                        logits, c1 = shared_prompt_logits(engine.module, batch, rows, batch.group_size)  # [b, c1, V]
                else:
                    sl = row_slice(batch, idx)
                    c1 = sl.width
                    logits = completion_logits(engine, sl)  # [b, c1, V]
                logp = token_logprobs(logits, batch.completion_ids[idx, :c1], temperature=temperature)
                mask = batch.completion_mask[idx, :c1] & row_keep[idx].unsqueeze(1)  # [b, c1]
                old = old_logp[idx, :c1] if old_logp is not None else logp.detach()
                ref = ref_logp[idx, :c1] if ref_logp is not None else None
                isw = None
                if batch.rollout_logp is not None and (it == 0 or is_level):
                    w, ist = importance_weights(old, batch.rollout_logp[idx, :c1], mask, level=is_level or "token",
                                                mode=g.importance_sampling_mode, threshold=g.importance_sampling_max,
                                                threshold_low=g.importance_sampling_min)
                    ntok = float(mask.sum())
                    if it == 0:
                        add("logp_gap_mean", ist["logp_gap_mean"], ntok)
                        if is_level:
                            add("is_weight_mean", ist["is_weight_mean"], ntok)
                            add("is_clipped_frac", ist["is_clipped_frac"], ntok)
                    isw = w if is_level else None
                loss, st = policy_loss(
                    logp, old, advantages[idx] if advantages.dim() == 1 else advantages[idx, :c1], mask, clip_low=g.clip_low, clip_high=g.clip_high,
                    dual_clip=g.dual_clip, level=g.ratio_level, ref_logp=ref, beta=beta_loss, kl=g.kl,
                    agg=g.loss_agg, norm_len=norm_len, tokens_in_step=tokens_in_step, seqs_in_step=seqs_in_step,
                    is_weights=isw)
                ent = entropy_from_logits(logits if g.entropy_coef else logits.detach(), temperature=temperature)
                if g.entropy_coef:
                    loss = loss - g.entropy_coef * aggregate(ent, mask, g.loss_agg, norm_len=norm_len,
                                                             tokens_in_step=tokens_in_step, seqs_in_step=seqs_in_step)
                engine.backward(loss * ctx.world_size, sync=sync)
                loss_total += float(loss.detach())
                ntok = st["num_tokens"]
                for key in ("clip_frac_low", "clip_frac_high", "clip_frac_dual", "ratio_mean", "kl_mean"):
                    add(key, st[key], ntok)
                add("entropy", float((ent.detach() * mask).sum()) / max(ntok, 1.0), ntok)
            grad_norms.append(engine.step())
            check_finite(grad_norms[-1], "gradient norm", step)
    num = ctx.all_reduce_sum([sums[k] for k in keys])
    den = ctx.all_reduce_sum([weights[k] for k in keys])
    out = {k: (a / b if b else 0.0) for k, a, b in zip(keys, num, den, strict=True)}
    out["loss"] = ctx.all_reduce_sum(loss_total) / max(1, g.iterations * g.mini_batches)
    out["grad_norm"] = grad_norms[-1] if grad_norms else 0.0
    out["lr"] = engine.lr()
    out["optimizer_steps"] = len(grad_norms)
    return out
