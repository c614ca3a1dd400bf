"""The extension point of the RL trainer: what an algorithm adds to the one loop of :mod:`r1cli.train.grpo`.

The loop is shared: rollout -> rewards -> ``advantages`` -> clipped policy loss and update
(:func:`r1cli.train.grpo_update.run_updates`) -> ``after_update``. An :class:`Algorithm` supplies

- ``setup(trainer)``: any extra model it needs (PPO's critic), built once the policy is loaded;
- ``advantages(trainer, groups, batch, old, ref) -> (advantages, keep, stats)``: ``[N]`` (one per
  completion) or ``[N, C]`` (one per token), the rows that enter the loss, and stats to log;
- ``train_policy(step)``: whether the policy updates this step (PPO's critic warm-up says no);
- ``after_update(trainer, batch) -> stats``: its own update (the critic's);
- ``state()`` / ``load(trainer, state)`` / ``save(trainer, step)`` / ``save_final(trainer)``: what a
  checkpoint must hold so that a resumed run continues to the identical state.

Algorithms are chosen by ``grpo.estimator``: :class:`GroupEstimators` serves the GRPO family and the
REINFORCE estimators (pure functions in :mod:`r1cli.rl.advantages`), :class:`PPO` adds a critic and GAE
(:mod:`r1cli.rl.ppo`, :mod:`r1cli.train.critic`). The math lives in :mod:`r1cli.rl`; this module only
wires it to the trainer's state.
"""

from __future__ import annotations

from typing import Any


class Algorithm:
    """Defaults: no extra model, no extra state, the policy trains every step."""

    name = "base"

    def setup(self, trainer: Any) -> None:
        pass

    def advantages(self, trainer: Any, groups: list, batch: Any, old: Any, ref: Any) -> tuple[Any, Any, dict]:
        raise NotImplementedError

    def train_policy(self, step: int) -> bool:
        return True

    def after_update(self, trainer: Any, batch: Any) -> dict:
        return {}

    def state(self) -> dict:
        return {}

    def load(self, trainer: Any, state: dict) -> None:
        pass

    def save(self, trainer: Any, step: int) -> None:
        pass

    def save_final(self, trainer: Any) -> None:
        pass


def _rewards(trainer: Any, groups: list, batch: Any) -> tuple[Any, list[bool]]:
    """``[N]`` rewards (an unjudged one filled with its group's mean) and which were judged."""
    import torch

    from r1cli.train.grpo_update import fill_none_rewards

    raw = [r for grp in groups for r in grp.rewards]
    rewards, judged = fill_none_rewards(raw, trainer.cfg.generation.n)
    return torch.tensor(rewards, dtype=torch.float32, device=batch.input_ids.device), judged


def _keep(trainer: Any, groups: list, judged: list[bool], device: Any) -> Any:
    """Rows that enter the loss: judged ones, minus truncated ones when ``mask_truncated_completions``."""
    import torch

    keep = torch.tensor(judged, dtype=torch.bool, device=device)
    if trainer.cfg.grpo.mask_truncated_completions:
        trunc = [c.finish_reason == "length" for grp in groups for c in grp.completions]
        keep &= ~torch.tensor(trunc, dtype=torch.bool, device=device)
    return keep


class GroupEstimators(Algorithm):
    """One advantage per completion from its reward and its group (GRPO, RLOO, REINFORCE++-baseline) or the
    batch (REINFORCE, with a batch-mean or moving-average baseline); KL optionally as a reward penalty."""

    name = "group"

    def __init__(self) -> None:
        self.baseline: float | None = None  # reinforce-ema's moving average of batch rewards

    def advantages(self, trainer: Any, groups: list, batch: Any, old: Any, ref: Any) -> tuple[Any, Any, dict]:
        from r1cli.rl import ema_baseline, group_advantages, kl_estimate

        g, size = trainer.cfg.grpo, trainer.cfg.generation.n
        r, judged = _rewards(trainer, groups, batch)
        extra = {}
        if g.kl_placement == "reward" and ref is not None and r.numel():
            k1 = kl_estimate(old, ref, "k1") * batch.completion_mask  # [N, C]
            penalty = g.beta * k1.sum(-1)  # [N] sequence-summed k1
            r = r - penalty
            extra["kl_reward_penalty"] = float(penalty.mean())
        adv = group_advantages(r, size, estimator=g.estimator, scale=g.scale, eps=g.adv_eps,
                               baseline=self.baseline) if r.numel() else r
        if g.estimator == "reinforce-ema" and r.numel():
            ctx = trainer.ctx
            mean = ctx.all_reduce_sum(float(r.sum())) / max(ctx.all_reduce_sum(float(r.numel())), 1.0)
            self.baseline = ema_baseline(self.baseline, [mean], g.baseline_decay)
            extra["baseline"] = self.baseline
        extra["advantage_abs_mean"] = float(adv.abs().mean()) if adv.numel() else 0.0
        return adv, _keep(trainer, groups, judged, batch.input_ids.device), extra

    def state(self) -> dict:
        return {"baseline": self.baseline}

    def load(self, trainer: Any, state: dict) -> None:
        self.baseline = state.get("baseline")


class PPO(Algorithm):
    """PPO with a learned critic: per-token rewards (the outcome on the last token, ``β·k1`` per token with
    ``kl_placement: reward``), GAE(γ, λ) against the critic's values, advantages whitened over the batch,
    then the shared clipped policy update and a clipped value-loss update of the critic."""

    name = "ppo"

    def setup(self, trainer: Any) -> None:
        from types import SimpleNamespace

        from r1cli.train.critic import load_critic
        from r1cli.train.engine import build_engine
        from r1cli.train.grpo_update import micro_steps_per_update

        cfg, p, t = trainer.cfg, trainer.cfg.ppo, trainer.cfg.train
        self.p = p
        path = p.critic or cfg.model.path
        self.critic = load_critic(path, device=trainer.ctx.device, policy_vocab=len(trainer.tokenizer),
                                  model_cfg=cfg.model)
        total = t.max_steps * p.critic_iterations * p.critic_mini_batches
        g = cfg.grpo
        rows = g.prompts_per_step // trainer.ctx.world_size * cfg.generation.n
        # under DeepSpeed a fixed number of micro-batches per critic step (padded with empty ones)
        self.gas = micro_steps_per_update(rows, p.critic_mini_batches, g.micro_batch_size) if t.deepspeed else None
        shim = SimpleNamespace(**{**t.model_dump(), "learning_rate": p.critic_learning_rate,
                                  "per_device_batch_size": g.micro_batch_size or -(-rows // p.critic_mini_batches),
                                  "gradient_accumulation_steps": self.gas or 1})
        self.engine = build_engine(self.critic, shim, trainer.ctx, total_steps=max(total, 1),
                                   warmup_steps=p.critic_lr_warmup_steps, bf16=trainer.bf16)
        self._values = self._returns = self._keep = None

    def train_policy(self, step: int) -> bool:
        return step >= self.p.critic_warmup_steps

    def advantages(self, trainer: Any, groups: list, batch: Any, old: Any, ref: Any) -> tuple[Any, Any, dict]:
        from r1cli.rl import kl_estimate
        from r1cli.rl.ppo import gae, token_rewards, whiten
        from r1cli.train.critic import batch_values

        g, ctx = trainer.cfg.grpo, trainer.ctx
        r, judged = _rewards(trainer, groups, batch)
        keep = _keep(trainer, groups, judged, batch.input_ids.device)
        mask = batch.completion_mask & keep.unsqueeze(1)  # [N, C]
        kl = kl_estimate(old, ref, "k1") if g.kl_placement == "reward" and ref is not None else None
        values = batch_values(self.engine.module, batch, g.micro_batch_size, g.micro_batch_tokens)  # [N, C]
        rewards = token_rewards(r, mask, kl=kl, beta=g.beta if kl is not None else 0.0)
        adv, returns = gae(rewards, values, mask, gamma=self.p.gamma, lam=self.p.lam)
        extra = {"value_mean": _masked_mean(ctx, values, mask), "return_mean": _masked_mean(ctx, returns, mask)}
        if kl is not None:
            extra["kl_reward_penalty"] = _masked_mean(ctx, g.beta * kl, mask)
        if self.p.whiten_advantages:
            sel = adv[mask]
            totals = ctx.all_reduce_sum([float(sel.numel()), float(sel.sum()), float((sel * sel).sum())])
            adv = whiten(adv, mask, totals=tuple(totals))
        extra["advantage_abs_mean"] = _masked_mean(ctx, adv.abs(), mask)
        self._values, self._returns, self._keep = values, returns, keep
        return adv, keep, extra

    def after_update(self, trainer: Any, batch: Any) -> dict:
        """``critic_iterations`` passes of ``critic_mini_batches`` optimizer steps on the clipped value loss
        against the GAE returns (token mean over each mini-batch, summed over micro-batches and ranks)."""
        import torch

        from r1cli.rl.ppo import value_loss
        from r1cli.train.critic import critic_values
        from r1cli.train.grpo_update import check_finite, micro_batches

        g, ctx, p = trainer.cfg.grpo, trainer.ctx, self.p
        n, dev = batch.size, batch.input_ids.device
        gen = torch.Generator().manual_seed(trainer.cfg.train.seed * 1_000_003 + trainer.step + 7)
        lengths = batch.row_lengths()
        losses, clip, norms, count = 0.0, 0.0, [], 0
        for _ in range(p.critic_iterations):
            shuffle = p.critic_iterations > 1 or p.critic_mini_batches > 1
            order = torch.randperm(n, generator=gen).tolist() if shuffle else list(range(n))
            for k in range(p.critic_mini_batches):
                chunk = order[k * n // p.critic_mini_batches:(k + 1) * n // p.critic_mini_batches]
                idx_all = torch.tensor(chunk, dtype=torch.long, device=dev)
                tokens = ctx.all_reduce_sum(float((batch.completion_mask[idx_all] & self._keep[idx_all, None]).sum()))
                runs: list = micro_batches(chunk, g.micro_batch_size, lengths, g.micro_batch_tokens) or [None]
                if self.gas is not None:  # DeepSpeed counts micro-batches: every rank runs exactly gas of them
                    runs += [None] * (self.gas - len(runs))
                for j, rows in enumerate(runs):
                    sync = j == len(runs) - 1
                    if rows is None or not tokens:  # nothing to fit: a zero loss that touches every parameter
                        dummy = batch.input_ids[:1, :1] if n else torch.zeros((1, 1), dtype=torch.long, device=dev)
                        self.engine.backward(self.engine.forward({"input_ids": dummy}).sum() * 0.0, sync=sync)
                        continue
                    idx = torch.tensor(rows, dtype=torch.long, device=dev)
                    v, width = critic_values(self.engine, batch, idx)
                    mask = batch.completion_mask[idx, :width] & self._keep[idx, None]
                    loss, st = value_loss(v, self._values[idx, :width], self._returns[idx, :width], mask,
                                          clip=p.value_clip)
                    ntok = float(mask.sum())
                    scaled = loss * (ntok / tokens)  # the mini-batch's token mean, split over micro-batches
                    self.engine.backward(scaled * ctx.world_size, sync=sync)
                    losses += float(scaled.detach())
                    clip += st["value_clip_frac"] * ntok
                    count += ntok
                norms.append(self.engine.step())
                check_finite(norms[-1], "critic's gradient norm", trainer.step)
        steps = p.critic_iterations * p.critic_mini_batches
        tot = ctx.all_reduce_sum([losses, clip, float(count)])
        return {"value_loss": tot[0] / steps, "value_clip_frac": tot[1] / tot[2] if tot[2] else 0.0,
                "critic_grad_norm": norms[-1] if norms else 0.0, "critic_lr": self.engine.lr()}

    def state(self) -> dict:
        return {"critic_step": self._saved_step}

    _saved_step: int | None = None

    def save(self, trainer: Any, step: int) -> None:
        """``critic-step<N>.pt`` (torch/DDP: the main rank) or ``critic-step<N>/`` (DeepSpeed: every rank writes
        its optimizer shard), keeping the newest ``save_total_limit``."""
        import shutil

        from r1cli.train.critic import save_critic_state

        deepspeed = self.engine.kind == "deepspeed"
        if deepspeed:
            self.engine.model.save_checkpoint(str(trainer.out / f"critic-step{step}"), tag="state")
            trainer.ctx.barrier()
        elif trainer.ctx.is_main:
            save_critic_state(trainer.out / f"critic-step{step}.pt", self.engine)
        keep = trainer.cfg.train.save_total_limit
        if trainer.ctx.is_main and keep:
            olds = sorted((int(f.name.removesuffix(".pt").split("step")[-1]), f)
                          for f in trainer.out.glob("critic-step*") if f.is_dir() == deepspeed)
            for _, f in olds[:-keep]:
                if deepspeed:
                    shutil.rmtree(f, ignore_errors=True)
                else:
                    f.unlink(missing_ok=True)
        self._saved_step = step
        trainer.ctx.barrier()

    def load(self, trainer: Any, state: dict) -> None:
        from r1cli.train.critic import load_critic_state

        step = state.get("critic_step")
        if step is None:
            from r1cli.errors import R1Error

            raise R1Error("resume: the checkpoint holds no critic state (it was not saved by a PPO run)")
        if self.engine.kind == "deepspeed":
            path = trainer.out / f"critic-step{step}"
            if not path.is_dir():
                from r1cli.errors import R1Error

                raise R1Error(f"resume: the critic's checkpoint {path} is missing")
            self.engine.model.load_checkpoint(str(path), tag="state")
        else:
            load_critic_state(trainer.out / f"critic-step{step}.pt", self.engine)
        self._saved_step = step

    def save_final(self, trainer: Any) -> None:
        from r1cli.train.critic import save_critic_model

        if trainer.ctx.is_main:
            save_critic_model(trainer.out / "critic", self.critic, trainer.tokenizer)


def _masked_mean(ctx: Any, x: Any, mask: Any) -> float:
    total = ctx.all_reduce_sum([float((x * mask).sum()), float(mask.sum())])
    return total[0] / total[1] if total[1] else 0.0


def make_algorithm(cfg: Any) -> Algorithm:
    """The algorithm of ``cfg.grpo.estimator``."""
    return PPO() if cfg.grpo.estimator == "ppo" else GroupEstimators()
