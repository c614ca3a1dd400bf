"""The GRPO update on one rollout batch: tensors, log-probs, advantages, μ × mini-batch steps.

Layout of a batch of ``N`` sequences (``N`` = groups × G, group-major): prompts left-padded to width
``P``, completions right-padded to width ``C``, so every completion starts at column ``P``::

    input_ids [N, P + C]:  pad pad p p p | c c c EOS pad
    completion_ids [N, C], completion_mask [N, C] (1 on generated tokens, EOS included)

A micro-batch takes some rows and trims the columns no row uses. Logits are computed only for the
last ``C' + 1`` positions (``logits_to_keep``), position ``P − 1 + t`` predicting completion token ``t``.
All math (advantages, clipped loss, KL, entropy, importance weights) comes from :mod:`r1cli.rl`.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from r1cli.errors import R1Error

if TYPE_CHECKING:
    import torch


@dataclass
class TrainBatch:
    """One rank's sequences for one step (tensors on the training device)."""

    input_ids: torch.Tensor  # [N, P + C]
    attention_mask: torch.Tensor  # [N, P + C]
    position_ids: torch.Tensor  # [N, P + C]
    completion_ids: torch.Tensor  # [N, C]
    completion_mask: torch.Tensor  # [N, C] bool, generated tokens
    prompt_width: int  # P
    rollout_logp: torch.Tensor | None  # [N, C] engine log-probs (None when the engine gave none)

    @property
    def size(self) -> int:
        return int(self.input_ids.shape[0])


def build_batch(prompt_ids: list[list[int]], completion_ids: list[list[int]], pad_id: int,
                rollout_logprobs: list[Any] | None = None, device: Any = "cpu") -> TrainBatch:
    """Pad prompts on the left and completions on the right (see the module docstring)."""
    import torch

    n = len(prompt_ids)
    p = max((len(x) for x in prompt_ids), default=0)
    c = max(1, max((len(x) for x in completion_ids), default=0))
    ids = torch.full((n, p + c), pad_id, dtype=torch.long)
    att = torch.zeros((n, p + c), dtype=torch.long)
    comp = torch.full((n, c), pad_id, dtype=torch.long)
    cmask = torch.zeros((n, c), dtype=torch.bool)
    have_lp = rollout_logprobs is not None and all(x is not None for x in rollout_logprobs)
    rlp = torch.zeros((n, c), dtype=torch.float32) if have_lp else None
    for i, (pi, ci) in enumerate(zip(prompt_ids, completion_ids, strict=True)):
        ids[i, p - len(pi):p] = torch.tensor(pi, dtype=torch.long)
        att[i, p - len(pi):p + len(ci)] = 1
        if ci:
            ids[i, p:p + len(ci)] = torch.tensor(ci, dtype=torch.long)
            comp[i, :len(ci)] = torch.tensor(ci, dtype=torch.long)
            cmask[i, :len(ci)] = True
            if rlp is not None:
                rlp[i, :len(ci)] = torch.tensor(list(rollout_logprobs[i])[:len(ci)], dtype=torch.float32)
    pos = (att.cumsum(-1) - 1).clamp(min=0)  # [N, P + C]; RoPE positions ignore left padding
    to = (lambda t: t.to(device)) if device != "cpu" else (lambda t: t)
    return TrainBatch(to(ids), to(att), to(pos), to(comp), to(cmask), p, to(rlp) if rlp is not None else None)


def row_slice(batch: TrainBatch, rows: torch.Tensor) -> tuple[dict, int, int]:
    """Model inputs of ``rows`` with unused columns trimmed; returns ``(inputs, c0, c1)``.

    ``c1`` is the trimmed completion width; per-row tensors ``[N, C]`` are cut with ``[rows, :c1]``.
    """
    att = batch.attention_mask[rows]
    cm = batch.completion_mask[rows]
    c1 = max(1, int(cm.sum(-1).max())) if cm.numel() else 1
    prompt_att = att[:, :batch.prompt_width]
    used = prompt_att.any(0).nonzero()
    start = int(used[0]) if used.numel() else batch.prompt_width - 1
    start = min(start, batch.prompt_width - 1)
    end = batch.prompt_width + c1
    inputs = {"input_ids": batch.input_ids[rows, start:end], "attention_mask": att[:, start:end],
              "position_ids": batch.position_ids[rows, start:end]}
    return inputs, start, c1


def completion_logits(runner: Any, inputs: dict, width: int) -> torch.Tensor:
    """Logits ``[b, width, V]`` predicting the ``width`` completion tokens of a trimmed batch.

    ``runner``: a bare model, or an engine (its ``forward`` runs DDP/DeepSpeed and bf16 autocast).
    Only the last ``width + 1`` positions are projected to the vocabulary when the model supports
    ``logits_to_keep``.
    """
    from r1cli.train.distributed import unwrap_model

    bare = unwrap_model(getattr(runner, "module", runner))
    keep_kw = getattr(bare, "_r1_keep_kw", None)
    if keep_kw is None:
        keep_kw = "logits_to_keep" if "logits_to_keep" in inspect.signature(bare.forward).parameters else ""
        bare._r1_keep_kw = keep_kw
    kwargs = {"use_cache": False, **({keep_kw: width + 1} if keep_kw else {})}
    if hasattr(runner, "backward"):  # an engine
        out = runner.forward({**inputs, **kwargs})
    else:
        out = runner(**inputs, **kwargs)
    return out.logits[:, -(width + 1):-1, :]


def micro_batches(rows: list[int], size: int | None) -> list[list[int]]:
    """``rows`` in consecutive chunks of ``size`` (one chunk when ``size`` is None)."""
    if not rows:
        return []
    size = size or len(rows)
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def sequence_logprobs(model: Any, batch: TrainBatch, *, temperature: float, micro_batch_size: int | None
                      ) -> torch.Tensor:
    """``[N, C]`` log-probs of the completion tokens under ``model`` (no gradient; 0 on padding)."""
    import torch

    from r1cli.rl import token_logprobs

    out = torch.zeros(batch.completion_ids.shape, dtype=torch.float32, device=batch.completion_ids.device)
    with torch.no_grad():
        for rows in micro_batches(list(range(batch.size)), micro_batch_size):
            idx = torch.tensor(rows, device=batch.input_ids.device)
            inputs, _, c1 = row_slice(batch, idx)
            logits = completion_logits(model, inputs, c1)
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
                uniform_micro_steps: int | None = None) -> dict[str, float]:
    """μ passes over ``batch``, each split into ``g.mini_batches`` optimizer steps; return step stats.

    ``engine``: :mod:`r1cli.train.engine` (plain, DDP or DeepSpeed) — ``forward``, ``backward(loss,
    sync)``, ``step() -> grad norm``, ``lr()``. ``advantages[N]``; ``row_keep[N]`` (False rows are masked
    out of the loss but still count as sequences of the step); ``old_logp``/``ref_logp`` ``[N, C]`` or
    None (then π_old is the current policy, detached). ``is_level`` turns on importance weights against
    the rollout engine's log-probs. ``uniform_micro_steps``: run exactly that many micro-batches per
    optimizer step (empty ones as padding). Each micro-batch loss uses the step's normalisers summed over
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

    for it in range(g.iterations):
        shuffle = g.iterations > 1 or g.mini_batches > 1
        order = torch.randperm(n, generator=gen).tolist() if shuffle else list(range(n))
        chunks = [order[k * n // g.mini_batches:(k + 1) * n // g.mini_batches] for k in range(g.mini_batches)]
        for chunk in chunks:
            idx_all = torch.tensor(chunk, dtype=torch.long, device=dev)
            mask_all = batch.completion_mask[idx_all] & row_keep[idx_all].unsqueeze(1)
            tokens_in_step = ctx.all_reduce_sum(float(mask_all.sum())) or None
            seqs_in_step = ctx.all_reduce_sum(float(len(chunk))) or None
            runs: list[list[int] | None] = list(micro_batches(chunk, g.micro_batch_size))
            if uniform_micro_steps is not None:
                if len(runs) > uniform_micro_steps:
                    raise R1Error(f"internal: {len(runs)} micro-batches for {uniform_micro_steps} micro-steps")
                runs += [None] * (uniform_micro_steps - len(runs))
            for k, rows in enumerate(runs):
                sync = k == len(runs) - 1
                if rows is None:  # padding micro-step: a zero loss that still touches every parameter
                    dummy = {"input_ids": batch.input_ids[:1, -1:] if n else torch.zeros((1, 1), dtype=torch.long,
                                                                                            device=dev)}
                    engine.backward(engine.forward(dummy).logits.sum() * 0.0, sync=sync)
                    continue
                idx = torch.tensor(rows, dtype=torch.long, device=dev)
                inputs, _, c1 = row_slice(batch, idx)
                logits = completion_logits(engine, inputs, c1)  # [b, c1, V]
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
                    logp, old, advantages[idx], mask, clip_low=g.clip_low, clip_high=g.clip_high,
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
