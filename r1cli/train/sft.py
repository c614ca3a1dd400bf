"""The SFT trainer: ``run_sft(cfg)`` trains a causal LM on chat records, loss on assistant tokens only.

One optimizer step consumes ``G = per_device_batch_size * gradient_accumulation_steps * world_size``
units (examples, or packed rows). The units of step ``s`` are fixed by ``s`` alone: epoch
``e = s // steps_per_epoch`` is a seeded shuffle of all units, and step ``s`` takes its next ``G``.
That is the whole data position, so ``--resume`` continues exactly from a checkpoint's step.

The step's units are cut into ``world_size * grad_accum`` micro-batches of ``per_device_batch_size``;
rank ``r`` runs micro-batches ``r*A .. r*A+A-1``. So one process with accumulation 2 and two
processes with accumulation 1 compute the same micro-batches. The loss of a step is

    loss = (sum over every loss token of the step, on every rank, of -log p(token)) / N_step

with ``N_step`` the step's number of loss tokens (known on every rank without communication,
since all ranks hold the data plan): micro-batch sizes and rank counts do not change the update.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r1cli.console import err
from r1cli.errors import R1Error


class TrainingDivergedError(R1Error):
    """The loss or the gradient norm became NaN/inf; the run stops, last good checkpoint kept."""


@dataclass
class DataPlan:
    """Training units (each a list of ``Tokenized`` examples: 1 unpacked, several packed) and order."""

    units: list[list[Any]]
    global_batch: int
    seed: int
    shuffle: bool

    @property
    def steps_per_epoch(self) -> int:
        return max(1, math.ceil(len(self.units) / self.global_batch))

    def epoch_order(self, epoch: int) -> list[int]:
        """The seeded permutation of unit indices for ``epoch`` (cached: one shuffle per epoch)."""
        cached = getattr(self, "_order", None)
        if cached is not None and cached[0] == epoch:
            return cached[1]
        order = list(range(len(self.units)))
        if self.shuffle:
            random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
        self._order = (epoch, order)
        return order

    def step_units(self, step: int) -> list[list[Any]]:
        """The units of optimizer step ``step`` (0-based); the last step of an epoch may be short."""
        epoch, k = divmod(step, self.steps_per_epoch)
        order = self.epoch_order(epoch)
        return [self.units[i] for i in order[k * self.global_batch:(k + 1) * self.global_batch]]

    def fingerprint(self) -> str:
        """Hash of the tokenized units: resuming on different data is refused."""
        h = hashlib.sha256(f"{self.global_batch}|{self.seed}|{self.shuffle}".encode())
        for unit in self.units:
            for ex in unit:
                h.update(str(len(ex.input_ids)).encode() + b",")
                h.update(bytes(str(ex.input_ids[:8] + ex.input_ids[-8:]), "utf-8"))
            h.update(b";")
        return h.hexdigest()[:16]


def micro_slots(units: list[list[Any]], *, rank: int, world_size: int, micro_batch: int,
                grad_accum: int) -> list[list[list[Any]]]:
    """This rank's ``grad_accum`` micro-batches of the step (some may be empty on a short step)."""
    slots = [units[k * micro_batch:(k + 1) * micro_batch] for k in range(world_size * grad_accum)]
    return slots[rank * grad_accum:(rank + 1) * grad_accum]


def supports_logits_mask(model: Any) -> bool:
    """Whether ``model.forward`` takes a boolean ``logits_to_keep`` (transformers >= 5.x)."""
    import inspect

    try:
        from transformers.modeling_utils import slice_logits_to_keep  # noqa: F401
    except ImportError:
        return False
    return "logits_to_keep" in inspect.signature(model.forward).parameters


def token_loss_sum(engine: Any, batch: Any, logits_mask: bool) -> Any:
    """Sum over the micro-batch's loss tokens of ``-log p(label)`` (fp32 scalar tensor).

    Logits are computed only where a label exists when the model allows it (``logits_to_keep`` as
    a (B, L) bool mask -> logits (N, V)); otherwise full logits (B, L, V) are indexed.
    """
    import torch.nn.functional as F

    inputs = batch.model_inputs()
    keep = batch.labels != -100  # (B, L)
    if logits_mask:
        inputs["logits_to_keep"] = keep
    logits = engine.forward(inputs).logits
    if not logits_mask:
        logits = logits[keep]  # (N, V)
    return F.cross_entropy(logits.float(), batch.labels[keep], reduction="sum")


def read_data(cfg: Any) -> tuple[list[dict], list[str]]:
    """``cfg.data``'s SFT records and their locations, each checked (fields, types) before a model loads."""
    from r1cli.data.chat import record_messages
    from r1cli.data.io import read_located

    d = cfg.data
    if not d.path:
        raise R1Error("data.path is required: a JSONL/JSON/Parquet/CSV of SFT records (e.g. sft.jsonl from "
                      "`r1 data make arith`) or a hub id; set it with --data PATH")
    records, where = read_located(d.path, split=d.split)
    if d.limit:
        records, where = records[:d.limit], where[:d.limit]
    if not records:
        raise R1Error(f"{d.path}: no records")
    for record, at in zip(records, where, strict=True):
        record_messages(record, messages_field=d.messages_field, prompt_field=d.prompt_field,
                        completion_field=d.completion_field, where=at)
    return records, where


def load_data(cfg: Any, tokenizer: Any, read: tuple[list[dict], list[str]] | None = None) -> tuple[list[Any], dict]:
    """Tokenize ``cfg.data`` (``read``: :func:`read_data`'s result, else read now; see
    :mod:`r1cli.data.chat`); report the max_length policy."""
    from r1cli.data.chat import tokenize_dataset

    d = cfg.data
    records, where = read or read_data(cfg)
    examples, stats = tokenize_dataset(records, tokenizer, max_length=d.max_length, truncation=d.truncation,
                                       messages_field=d.messages_field, prompt_field=d.prompt_field,
                                       completion_field=d.completion_field, system_prompt=d.system_prompt,
                                       source=str(d.path), locations=where)
    if not examples:
        raise R1Error(f"{d.path}: no example left to train on ({stats.as_dict()}); raise data.max_length or "
                      "use data.truncation=truncate")
    return examples, stats.as_dict()


def build_plan(examples: list[Any], cfg: Any, world_size: int) -> DataPlan:
    from r1cli.data.packing import pack_best_fit

    t = cfg.train
    if cfg.data.packing:
        rows = pack_best_fit([len(e.input_ids) for e in examples], cfg.data.max_length)
        units = [[examples[i] for i in row] for row in rows]
    else:
        units = [[e] for e in examples]
    g = t.per_device_batch_size * t.gradient_accumulation_steps * world_size
    return DataPlan(units, g, t.seed, cfg.data.shuffle)


def make_collate(packing: bool, pad_id: int, attn: str, dtype: Any):
    from r1cli.data.packing import collate_packed, collate_padded

    if packing:
        return lambda slot: collate_packed(slot, pad_id, attn_implementation=attn, dtype=dtype)
    return lambda slot: collate_padded([u[0] for u in slot], pad_id)


def _finished_step(out_dir: Path) -> int | None:
    """The step a finished run in ``out_dir`` stopped at (its ``summary.json`` and ``final/``), else None."""
    try:
        summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return int(summary.get("steps", 0)) if (out_dir / "final").is_dir() and summary.get("final_dir") else None


def _already_finished(ctx: Any, out_dir: Path, step: int, checkpoint: Any) -> dict:
    """``--resume`` of a run that reached its last step: say so in one line and change nothing."""
    final = out_dir / "final"
    if ctx.is_main:
        err.print(f"r1 sft: {out_dir} already finished at step {step} ({Path(checkpoint).name}); "
                  "nothing to do" + (f"; the model is in {final}" if final.is_dir() else ""))
    ctx.close()
    return {"output_dir": str(out_dir), "final_dir": str(final) if final.is_dir() else None, "steps": step,
            "start_step": step, "already_finished": True, "last_checkpoint": str(checkpoint)}


def run_sft(cfg: Any, *, config_yaml: str | None = None) -> dict:
    """Train per ``cfg`` (an :class:`r1cli.config.sft.SFTConfig`); return a summary dict.

    Writes under ``cfg.output_dir``: ``checkpoint-<step>/`` every ``save_steps`` (and at the end),
    ``final/`` (HF model dir), ``metrics.jsonl``, ``loss.png`` and ``summary.json``.
    """
    import torch

    from r1cli.config.core import to_yaml
    from r1cli.data.chat import ensure_chat_template
    from r1cli.data.io import atomic_write_text
    from r1cli.train.checkpoint import list_checkpoints, resolve_resume, save_hf_model
    from r1cli.train.distributed import init_distributed
    from r1cli.train.engine import build_engine
    from r1cli.train.logging import MetricsLogger, TrainProgress, plot_loss_curve
    from r1cli.train.model_utils import load_for_training
    from r1cli.train.optim import warmup_steps_for

    t = cfg.train
    config_yaml = config_yaml or to_yaml(cfg)
    out_dir = Path(cfg.output_dir)
    if t.cpu_threads:
        torch.set_num_threads(t.cpu_threads)
    ctx = init_distributed(t.device)
    random.seed(t.seed)
    torch.manual_seed(t.seed)
    bf16 = ctx.device.startswith("cuda") if t.bf16 is None else t.bf16
    read = read_data(cfg)  # a bad record fails here, before the model loads
    model, tokenizer, attn = load_for_training(cfg.model, device=ctx.device,
                                               gradient_checkpointing=t.gradient_checkpointing)
    if ensure_chat_template(tokenizer):
        model.resize_token_embeddings(len(tokenizer))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    examples, data_stats = load_data(cfg, tokenizer, read)
    plan = build_plan(examples, cfg, ctx.world_size)
    total = t.max_steps or max(1, math.ceil(t.num_epochs * plan.steps_per_epoch))
    warmup = warmup_steps_for(total, t.warmup_ratio)
    logits_mask = supports_logits_mask(model)
    engine = build_engine(model, t, ctx, total_steps=total, warmup_steps=warmup, bf16=bf16)
    collate = make_collate(cfg.data.packing, pad_id, attn, next(model.parameters()).dtype)
    fingerprint = plan.fingerprint()

    start = 0
    resume_from = resolve_resume(cfg.resume, out_dir, ctx)
    stale = ctx.broadcast_object(list_checkpoints(out_dir) if ctx.is_main else None)  # one view for all ranks
    done = ctx.broadcast_object(_finished_step(out_dir) if ctx.is_main else None)
    if resume_from is None and done is not None:
        return _already_finished(ctx, out_dir, done, out_dir / "final")
    if resume_from is None and stale and not cfg.resume:
        raise R1Error(f"{out_dir} already holds checkpoints (up to {stale[-1][1].name}); continue that run with "
                      "--resume latest, or start afresh in another --output-dir")
    if resume_from is not None:
        state = engine.load(resume_from)
        if state.get("data_fingerprint") not in (None, fingerprint):
            raise R1Error(f"--resume {resume_from}: the data or batch layout differs from the checkpoint's run; "
                          "resume with the same data and batch settings, or start a new --output-dir")
        start = int(state["step"])
        if start >= total:
            return _already_finished(ctx, out_dir, start, resume_from)
    if ctx.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        if not (out_dir / "config.yaml").is_file():  # `r1 sft` wrote it already (r1cli.data.rundir)
            atomic_write_text(out_dir / "config.yaml", config_yaml)
        err.print(f"[bold]r1 sft[/bold] {len(examples)} examples ({data_stats['truncated']} truncated, "
                  f"{data_stats['dropped_too_long']} dropped as too long, {data_stats['dropped_no_loss_tokens']} "
                  f"without loss tokens) -> {len(plan.units)} {'packed rows' if cfg.data.packing else 'units'}; "
                  f"{total} steps of {plan.global_batch} on {ctx.world_size} process(es), {ctx.device}, "
                  f"attn {attn}{', bf16' if bf16 else ''}{f', deepspeed {t.deepspeed}' if t.deepspeed else ''}"
                  + (f"; resuming at step {start} from {resume_from}" if resume_from else ""))
    logger = MetricsLogger(out_dir, enabled=ctx.is_main, report_to=t.report_to, run_name=out_dir.name,
                           config=cfg.model_dump(mode="json"), resume_step=start if resume_from else None)
    progress = TrainProgress(total, initial_step=start, enabled=ctx.is_main, description="sft")
    extra = {"data_fingerprint": fingerprint, "steps_per_epoch": plan.steps_per_epoch, "data": data_stats}
    uniform = ctx.is_distributed or engine.kind == "deepspeed"  # every rank runs exactly A micro-steps
    t_start = time.monotonic()
    win = {"loss_sum": 0.0, "loss_tokens": 0, "tokens": 0, "steps": 0, "t": time.monotonic()}
    tokens_total = 0
    last_loss = float("nan")
    last_ckpt = str(resume_from) if resume_from else None
    step = start
    try:
        while step < total:
            units = plan.step_units(step)
            n_step = sum(int(sum(ex.loss_mask[1:])) for unit in units for ex in unit)
            slots = micro_slots(units, rank=ctx.rank, world_size=ctx.world_size,
                                micro_batch=t.per_device_batch_size, grad_accum=t.gradient_accumulation_steps)
            run = slots if uniform else [s for s in slots if s]
            local = [0.0, 0.0]  # loss sum, real tokens
            for i, slot in enumerate(run):
                batch = collate(slot or [plan.units[0]]).to(ctx.device)
                loss_sum = token_loss_sum(engine, batch, logits_mask)
                weight = ctx.world_size / max(1, n_step) if slot else 0.0
                engine.backward(loss_sum * weight, sync=i == len(run) - 1)
                if slot:
                    local[0] += float(loss_sum.detach())
                    local[1] += batch.num_tokens
            loss_sum_all, tokens = ctx.all_reduce_sum(local)
            loss = loss_sum_all / max(1, n_step)
            grad_norm = engine.step() if math.isfinite(loss) else float("nan")
            if not (math.isfinite(loss) and math.isfinite(grad_norm)):
                logger.log({"loss": loss, "grad_norm": grad_norm}, step=step + 1)
                what = "loss" if not math.isfinite(loss) else "gradient norm"
                raise TrainingDivergedError(
                    f"{what} became {loss if what == 'loss' else grad_norm} at step {step + 1}; stopped without "
                    f"updating. Last good checkpoint: {last_ckpt or 'none'}. Try a lower train.learning_rate "
                    "or train.max_grad_norm, or bf16 off")
            step += 1
            last_loss = loss
            tokens_total += int(tokens)
            win["loss_sum"] += loss_sum_all
            win["loss_tokens"] += n_step
            win["tokens"] += int(tokens)
            win["steps"] += 1
            if step % t.logging_steps == 0 or step == total:
                now = time.monotonic()
                rec = {"loss": win["loss_sum"] / max(1, win["loss_tokens"]), "lr": engine.lr(),
                       "grad_norm": grad_norm, "epoch": round(step / plan.steps_per_epoch, 4),
                       "tokens_per_s": win["tokens"] / max(1e-9, now - win["t"]), "tokens": tokens_total}
                logger.log(rec, step=step)
                progress.update(step, **rec)
                win = {"loss_sum": 0.0, "loss_tokens": 0, "tokens": 0, "steps": 0, "t": now}
            if (t.save_steps and step % t.save_steps == 0) or (step == total and t.save_steps):
                last_ckpt = str(engine.save(str(out_dir), step, tokenizer, {**extra, "tokens": tokens_total},
                                            config_yaml, t.save_total_limit))
    finally:
        progress.close()
        logger.close()
    elapsed = time.monotonic() - t_start
    final_dir = None
    if t.save_final:
        state_dict = engine.final_state_dict()
        if ctx.is_main:
            final_dir = save_hf_model(out_dir / "final", engine.module, tokenizer, state_dict=state_dict,
                                      config_yaml=config_yaml)
        ctx.barrier()
    summary = {"output_dir": str(out_dir), "final_dir": str(final_dir) if final_dir else None, "steps": step,
               "start_step": start, "epochs": round(step / plan.steps_per_epoch, 4), "final_loss": last_loss,
               "tokens": tokens_total, "seconds": round(elapsed, 2),
               "tokens_per_s": round(tokens_total / max(1e-9, elapsed), 1), "data": data_stats,
               "units": len(plan.units), "global_batch": plan.global_batch, "world_size": ctx.world_size,
               "attn_implementation": attn, "last_checkpoint": last_ckpt}
    if ctx.is_main:
        png = plot_loss_curve(out_dir / "metrics.jsonl", out_dir / "loss.png", title=f"r1 sft: {out_dir.name}")
        summary["loss_png"] = str(png) if png else None
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        err.print(f"[green]done[/green] {step} steps, final loss {last_loss:.4f}, "
                  f"{summary['tokens_per_s']:,.0f} tok/s; model -> {final_dir or '(not saved)'}")
    ctx.close()
    return summary
