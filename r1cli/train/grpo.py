"""The GRPO trainer (`r1 grpo`): rollouts -> rule rewards -> group advantages -> clipped updates.

One step: take ``prompts_per_step`` prompts (this rank's share; groups never split across ranks),
generate G completions each through the GenerationBackend (hf shares the policy object; vLLM gets the
new weights before each generation), score them with the weighted rewards, optionally drop
zero-variance groups and refill (DAPO dynamic sampling), compute group-relative advantages, then run
μ passes of ``mini_batches`` optimizer steps (:mod:`r1cli.train.grpo_update`). Metrics go to
``metrics.jsonl`` every step; checkpoints resume exactly (sampler position, optimizer, scheduler, RNG).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from r1cli.config.grpo import GRPOConfig
from r1cli.errors import R1Error
from r1cli.train import grpo_metrics as gm
from r1cli.train.rollout import (
    Group,
    PromptSampler,
    collect_rollout,
    curriculum_order,
    pick_correctness,
    render_prompt_text,
    score_groups,
    timed,
)


def make_scorer(rewards_cfg: Any) -> tuple[Any, list[str], str | None]:
    """``(score, names, correctness)``: ``score(texts, columns) -> (totals, components)`` from the reward
    registry, the canonical component names, and the component that defines "correct"."""
    from r1cli.rewards import combine_rewards
    from r1cli.rewards.registry import canonical_name

    weights = rewards_cfg.weights
    spec: list[str] = list(rewards_cfg.names)
    if isinstance(weights, dict):
        spec, weights = [f"{n}:{weights.get(n, 1.0)}" for n in spec], None
    combined = combine_rewards(spec, weights, rewards_cfg.params)
    explicit = canonical_name(rewards_cfg.correctness) if rewards_cfg.correctness else None

    def score(texts: list[str], columns: dict[str, list]) -> tuple[list, dict]:
        result = combined.score(texts, **columns)
        return list(result.total), {k: list(v) for k, v in result.components.items()}

    return score, list(combined.names), pick_correctness(combined.names, explicit)


def resolve_rollout_backend(cfg: GRPOConfig, warn: Any = None) -> GRPOConfig:
    """``generation.backend: auto`` made concrete: ``vllm`` when this process trains on a CUDA device and
    vLLM is importable, else ``hf``. Other values pass unchanged. ``warn(msg)`` hears about a GPU run
    that falls back to hf because vLLM is missing."""
    import importlib.util

    from r1cli.train.distributed import env_world, pick_device

    gen = cfg.generation
    if gen.backend != "auto":
        return cfg
    on_gpu = pick_device(cfg.train.device, env_world()[2]).startswith("cuda")
    has_vllm = importlib.util.find_spec("vllm") is not None
    kind = "vllm" if on_gpu and has_vllm else "hf"
    if on_gpu and not has_vllm and warn is not None:
        warn("vLLM is not installed, so rollouts use the hf backend (much slower on GPU); "
             "install it with: pip install 'r1cli[vllm]'")
    return cfg.model_copy(update={"generation": gen.model_copy(update={"backend": kind})})


def make_rollout_backend(cfg: GRPOConfig, model: Any, tokenizer: Any, ctx: Any = None) -> Any:
    """The generation backend: hf shares the policy object; vllm is colocated and synced by weights.

    Under torchrun each rank builds its own vLLM engine on its own GPU (``external_launcher``: vLLM
    joins the launcher's process group instead of spawning workers; tensor parallel size 1) and
    samples its own share of the prompts with a rank-specific seed.
    """
    from r1cli.generation.factory import backend_options_from_config, make_backend

    gen = cfg.generation
    if gen.backend == "hf":
        return make_backend("hf", model, tokenizer=tokenizer, token_budget=gen.token_budget)
    if gen.backend == "auto":
        raise R1Error("internal: generation.backend 'auto' must be resolved first (resolve_rollout_backend)")
    opts = backend_options_from_config(gen, cfg.model)
    if ctx is not None and ctx.is_distributed:
        opts.update(distributed_executor_backend="external_launcher", seed=int(opts.get("seed") or 0) + ctx.rank)
    return make_backend(gen.backend, cfg.model.path, **opts)


def importance_level(cfg: GRPOConfig) -> str | None:
    """Which importance-sampling correction applies ("auto": token level when vLLM samples)."""
    mode = cfg.grpo.importance_sampling
    if mode == "auto":
        return "token" if cfg.generation.backend == "vllm" else None
    return None if mode == "off" else mode


class GRPOTrainer:
    """State of one run; :meth:`train` runs it. Build with a resolved :class:`GRPOConfig`."""

    def __init__(self, cfg: GRPOConfig):
        import random
        from types import SimpleNamespace

        import torch

        from r1cli.console import err
        from r1cli.data.io import SET_FIELD_HINTS, load_problems
        from r1cli.train.distributed import init_distributed
        from r1cli.train.engine import build_engine
        from r1cli.train.grpo_update import micro_steps_per_update
        from r1cli.train.model_utils import load_for_training
        from r1cli.train.optim import warmup_steps_for

        t = cfg.train
        if t.cpu_threads:
            torch.set_num_threads(t.cpu_threads)
        self.ctx = init_distributed(t.device)
        # `r1 grpo` resolved "auto" already (for config.yaml); this serves callers of run_grpo(cfg)
        say = (lambda msg: err.print(f"[yellow]{msg}[/yellow]")) if self.ctx.is_main else None
        cfg = resolve_rollout_backend(cfg, warn=say)
        self.cfg, g, d = cfg, cfg.grpo, cfg.data
        if g.prompts_per_step % self.ctx.world_size:
            raise R1Error(f"grpo.prompts_per_step ({g.prompts_per_step}) must be a multiple of the number of "
                          f"processes ({self.ctx.world_size}) so that groups are never split")
        if not d.path:
            raise R1Error("no prompts: pass --data FILE (problems JSONL/Parquet/CSV or a hub id)")
        random.seed(t.seed)
        torch.manual_seed(t.seed)
        self.out = Path(cfg.output_dir)
        self.scorer, self.reward_names, self.correctness = make_scorer(cfg.rewards)
        records = load_problems(d.path, split=d.split, problem_field=d.problem_field, answer_field=d.answer_field,
                                id_field=d.id_field, limit=d.limit, hints=SET_FIELD_HINTS)
        order = curriculum_order(records, d.curriculum, d.curriculum_field) if d.curriculum != "none" else None
        self.sampler = PromptSampler(records, seed=t.seed, shuffle=d.shuffle, order=order)
        self.eval_records = []
        if cfg.eval.path:
            self.eval_records = load_problems(cfg.eval.path, split=cfg.eval.split, problem_field=d.problem_field,
                                              answer_field=d.answer_field, id_field=d.id_field,
                                              limit=cfg.eval.limit, hints=SET_FIELD_HINTS)
        model, self.tokenizer, _ = load_for_training(cfg.model, device=self.ctx.device,
                                                     gradient_checkpointing=t.gradient_checkpointing)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.ref = None
        if g.beta > 0:
            import copy

            self.ref = copy.deepcopy(model).eval().requires_grad_(False)
        rows = g.prompts_per_step // self.ctx.world_size * cfg.generation.n
        self.micro_steps = micro_steps_per_update(rows, g.mini_batches, g.micro_batch_size)
        total = t.max_steps * g.iterations * g.mini_batches
        shim = SimpleNamespace(**t.model_dump(), per_device_batch_size=g.micro_batch_size or -(-rows // g.mini_batches),
                               gradient_accumulation_steps=self.micro_steps)
        if t.deepspeed and _zero_stage(t.deepspeed) == 3:
            raise R1Error("train.deepspeed: ZeRO-3 is not supported by r1 grpo (rollouts need the full weights "
                          "on every rank); use zero2")
        self.bf16 = self.ctx.device.startswith("cuda") if t.bf16 is None else t.bf16
        self.engine = build_engine(model, shim, self.ctx, total_steps=total,
                                   warmup_steps=warmup_steps_for(total, t.warmup_ratio, t.warmup_steps), bf16=self.bf16)
        self.model = self.engine.module
        if self.engine.kind == "deepspeed":
            if g.micro_batch_tokens:
                raise R1Error("grpo.micro_batch_tokens cannot be used with DeepSpeed (a fixed number of "
                              "accumulation steps); set grpo.micro_batch_size")
            self._micro_steps = lambda n: self.micro_steps
        elif self.ctx.is_distributed:
            self._micro_steps = lambda n: max(self.ctx.all_gather_object(n))
        else:
            self._micro_steps = None
        self.backend = make_rollout_backend(cfg, self.model, self.tokenizer, self.ctx)
        self.is_level = importance_level(cfg)
        self.norm_len = float(g.norm_len or cfg.generation.max_new_tokens)
        self.step = 0
        self.weights_dirty = cfg.generation.backend != "hf"
        from r1cli.train.algorithms import make_algorithm

        self.algo = make_algorithm(cfg)  # the extension point: advantages, extra models, their updates
        self.algo.setup(self)

    # ------------------------------------------------------------------------------------ rollouts
    def _prompt(self, record: dict) -> str:
        d, gen = self.cfg.data, self.cfg.generation
        return render_prompt_text(record, template=d.prompt_template, chat=d.chat_template, tokenizer=self.tokenizer,
                                  system_prompt=gen.system_prompt, prefill_think=gen.prefill_think)

    def _params(self, n: int, seed: int, temperature: float, max_new_tokens: int) -> Any:
        from r1cli.generation.base import SamplingParams

        gen = self.cfg.generation
        return SamplingParams(n=n, temperature=temperature, top_p=gen.top_p if temperature > 0 else 1.0,
                              top_k=gen.top_k, max_new_tokens=max_new_tokens, stop=tuple(gen.stop), seed=seed)

    def _sync_weights(self) -> None:
        if self.weights_dirty:
            from r1cli.train.distributed import unwrap_model

            self.backend.update_weights(unwrap_model(self.model))
            self.weights_dirty = False

    def make_groups(self, records: list[dict], rnd: int) -> list[Group]:
        """Generate G completions for each record and score them (this rank's share)."""
        from r1cli.generation.prompts import encode_prompts

        gen = self.cfg.generation
        texts = [self._prompt(r) for r in records]
        seed = (gen.seed or 0) * 1_000_003 + self.step * 1009 + rnd * 101 + self.ctx.rank * 7919
        self._sync_weights()
        outs, secs = timed(self.backend.generate, texts, self._params(gen.n, seed, gen.temperature, gen.max_new_tokens))
        self._gen_s += secs
        ids = encode_prompts(self.tokenizer, texts)
        groups = [Group(r, t, i, list(c)) for r, t, i, c in zip(records, texts, ids, outs, strict=True)]
        _, secs = timed(score_groups, groups, self.scorer, self.correctness)
        self._reward_s += secs
        return groups

    def evaluate(self) -> float:
        """Held-out accuracy (fraction of correct completions) with ``eval.n`` samples per problem."""
        e, gen = self.cfg.eval, self.cfg.generation
        mine = self.ctx.shard(self.eval_records)
        self._sync_weights()
        params = self._params(e.n, 12345, e.temperature, e.max_new_tokens or gen.max_new_tokens)
        texts = [self._prompt(r) for r in mine]
        outs = self.backend.generate(texts, params) if texts else []
        groups = [Group(r, t, [], list(c)) for r, t, c in zip(mine, texts, outs, strict=True)]
        score_groups(groups, self.scorer, self.correctness)
        right = self.ctx.all_reduce_sum(float(sum(sum(g.correct) for g in groups)))
        total = self.ctx.all_reduce_sum(float(sum(len(g.correct) for g in groups)))
        return right / total if total else 0.0

    # -------------------------------------------------------------------------------------- update
    def _advantages(self, groups: list[Group], batch: Any, old: Any, ref: Any) -> tuple[Any, Any, dict]:
        return self.algo.advantages(self, groups, batch, old, ref)

    def train_step(self, rollout: Any) -> dict:
        """Tensors, old/reference log-probs, advantages, then the μ × mini-batch updates."""
        from r1cli.train.grpo_update import build_batch, run_updates, sequence_logprobs

        g, t, gen = self.cfg.grpo, self.cfg.train, self.cfg.generation
        groups = rollout.groups
        comps = [c for grp in groups for c in grp.completions]
        batch = build_batch([grp.prompt_ids for grp in groups for _ in grp.completions],
                            [list(c.token_ids) for c in comps], self.tokenizer.pad_token_id,
                            [c.logprobs for c in comps], device=self.ctx.device, group_size=gen.n)
        need_old = g.iterations > 1 or g.mini_batches > 1 or g.kl_placement == "reward"
        mb = {"temperature": gen.temperature, "micro_batch_size": g.micro_batch_size,
              "token_budget": g.micro_batch_tokens}
        old = sequence_logprobs(self.model, batch, **mb) if need_old and batch.size else None
        ref = sequence_logprobs(self.ref, batch, **mb) if self.ref is not None and batch.size else None
        adv, keep, extra = self._advantages(groups, batch, old, ref)
        if not self.algo.train_policy(self.step):  # e.g. PPO's critic warm-up: the policy waits
            stats = {**self.algo.after_update(self, batch), "loss": 0.0, "grad_norm": 0.0, "lr": self.engine.lr(),
                     "optimizer_steps": 0, "policy_frozen": 1.0}
            return {**stats, **extra}
        stats = run_updates(self.engine, batch, adv, keep, g=g, temperature=gen.temperature, norm_len=self.norm_len,
                            ctx=self.ctx, step=self.step, old_logp=old, ref_logp=ref if g.kl_placement == "loss" else None,
                            is_level=self.is_level, seed=t.seed,
                            micro_steps=self._micro_steps, share_prompts=g.share_prompts and not t.gradient_checkpointing)
        stats.update(self.algo.after_update(self, batch))
        self.weights_dirty = self.cfg.generation.backend != "hf"
        return {**stats, **extra}

    # ------------------------------------------------------------------------------------ the loop
    def train(self) -> dict:
        from r1cli.config.core import to_yaml
        from r1cli.console import err
        from r1cli.train.checkpoint import resolve_resume, save_hf_model
        from r1cli.train.logging import MetricsLogger, TrainProgress

        cfg, g, t, ctx = self.cfg, self.cfg.grpo, self.cfg.train, self.ctx
        resume = resolve_resume(cfg.resume, cfg.output_dir, ctx)
        if resume is not None:
            state = self.engine.load(resume)
            self.step = state["step"]
            self.sampler.load_state_dict(state["sampler"])
            self._load_ref(state.get("ref_step"))
            self.algo.load(self, state)
            self.weights_dirty = True
            if ctx.is_main:
                err.print(f"[green]resumed[/green] from {resume} at step {self.step}")
        finished = ctx.broadcast_object((self.out / "final" / "config.json").is_file() if ctx.is_main else None)
        if finished and (resume is None or self.step >= t.max_steps):  # a finished run is never redone
            if ctx.is_main:
                at = f" at step {self.step}" if resume is not None else ""
                err.print(f"r1 grpo: {self.out} already finished{at}; nothing to do; the policy is in {self.out / 'final'}")
            self.backend.close()
            return {"already_finished": True}
        logger = MetricsLogger(cfg.output_dir, enabled=ctx.is_main, report_to=t.report_to,
                               config=cfg.model_dump(mode="json"), resume_step=self.step if resume else None)
        progress = TrainProgress(t.max_steps, initial_step=self.step, enabled=ctx.is_main, description="grpo")
        warn = (lambda msg: err.print(f"[yellow]{msg}[/yellow]")) if ctx.is_main else None
        last: dict = {}
        if self.eval_records and self.step == 0:
            last["eval_accuracy"] = self.evaluate()
            logger.log({"eval_accuracy": last["eval_accuracy"]}, 0)
        with logger, progress:
            while self.step < t.max_steps:
                t0 = time.perf_counter()
                self._gen_s = self._reward_s = 0.0
                rollout = collect_rollout(
                    self.sampler, self.make_groups, prompts_per_step=g.prompts_per_step, step=self.step,
                    dynamic_sampling=g.dynamic_sampling, metric=g.dynamic_sampling_metric,
                    max_rounds=g.dynamic_sampling_max_rounds, prompts_per_round=g.dynamic_sampling_prompts_per_round,
                    rank=ctx.rank, world_size=ctx.world_size, gather_counts=ctx.all_gather_object, warn=warn)
                t1 = time.perf_counter()
                stats = self.train_step(rollout)
                self.step += 1
                if g.ref_reset_steps and self.step % g.ref_reset_steps == 0:
                    self._reset_ref()
                merged = gm.merge_stats(ctx.all_gather_object(gm.local_stats(rollout.groups, g.reflection_words)))
                counts = ctx.all_reduce_sum([rollout.generated_groups, rollout.zero_std_groups, rollout.dropped_groups])
                record = {**gm.finish_stats(merged), **stats,
                          "frac_reward_zero_std": counts[1] / counts[0] if counts[0] else 0.0,
                          "groups_trained": merged.get("groups", 0), "rollout_rounds": rollout.rounds,
                          "dropped_groups": counts[2], "generate_s": self._gen_s, "reward_s": self._reward_s,
                          "rollout_s": t1 - t0, "update_s": time.perf_counter() - t1,
                          "step_s": time.perf_counter() - t0}
                if self.eval_records and (self.step % cfg.eval.every_steps == 0 or self.step == t.max_steps):
                    record["eval_accuracy"] = self.evaluate()
                gm.check_finite_record(record, self.step)
                if self.step % t.logging_steps == 0 or self.step == t.max_steps or "eval_accuracy" in record:
                    logger.log(record, self.step)
                progress.update(self.step, loss=record["loss"], lr=record["lr"], reward=record["reward_mean"],
                                grad_norm=record["grad_norm"])
                last = record
                if t.save_steps and (self.step % t.save_steps == 0 or self.step == t.max_steps):
                    self.algo.save(self, self.step)
                    self.engine.save(cfg.output_dir, self.step, self.tokenizer,
                                     {"sampler": self.sampler.state_dict(), "ref_step": self._ref_step,
                                      **self.algo.state()},
                                     to_yaml(cfg), t.save_total_limit)
        state_dict = self.engine.final_state_dict()
        self.algo.save_final(self)
        if ctx.is_main:
            save_hf_model(self.out / "final", self.model, self.tokenizer, state_dict=state_dict,
                          config_yaml=to_yaml(cfg))
            if t.plots:
                self.plot()
            err.print(f"[green]saved[/green] the trained policy to {self.out / 'final'}")
        ctx.barrier()
        self.backend.close()
        return last

    # ------------------------------------------------------------------------------------- helpers
    _ref_step: int | None = None

    def _reset_ref(self) -> None:
        """R1-Zero: the reference becomes the current policy (kept on disk for exact resume)."""
        from safetensors.torch import save_file

        self.ref.load_state_dict(self.model.state_dict())
        self._ref_step = self.step
        if self.ctx.is_main:
            state = {k: v.detach().contiguous().cpu() for k, v in self.ref.state_dict().items()}
            save_file(_untie(state), str(self.out / f"ref-step{self.step}.safetensors"))

    def _load_ref(self, ref_step: int | None) -> None:
        if ref_step is None or self.ref is None:
            return
        from safetensors.torch import load_file

        path = self.out / f"ref-step{ref_step}.safetensors"
        if not path.is_file():
            raise R1Error(f"resume: the reference policy of step {ref_step} ({path}) is missing")
        self.ref.load_state_dict(load_file(str(path)), strict=True)
        self._ref_step = ref_step

    def plot(self) -> None:
        from r1cli.train.logging import plot_loss_curve

        for name, keys in gm.PLOTS.items():
            plot_loss_curve(self.out / "metrics.jsonl", self.out / name, keys=keys, title=f"r1 grpo: {name[:-4]}")


def _zero_stage(name: str) -> int:
    """ZeRO stage of a DeepSpeed config given as ``zero2``/``zero3`` or a JSON path (0 if unreadable)."""
    import json

    if name in ("zero2", "zero3"):
        return int(name[-1])
    try:
        return int(json.loads(Path(name).read_text()).get("zero_optimization", {}).get("stage", 0))
    except (OSError, ValueError, AttributeError):
        return 0


def _untie(state: dict) -> dict:
    """Clone tensors that share storage (tied embeddings), which safetensors refuses to save."""
    seen, out = set(), {}
    for k, v in state.items():
        ptr = v.data_ptr()
        out[k] = v.clone() if ptr in seen else v
        seen.add(ptr)
    return out


def run_grpo(cfg: GRPOConfig) -> dict:
    """Entry point of `r1 grpo`: train, save the policy to ``<output_dir>/final``, return the last metrics."""
    trainer = GRPOTrainer(cfg)
    try:
        last = trainer.train()
    except BaseException:
        trainer.ctx.close(clean=False)  # the other ranks may be stuck elsewhere: no closing barrier
        raise
    trainer.ctx.close()
    return last
