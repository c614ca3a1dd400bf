"""The DPO trainer: ``run_dpo(cfg)`` optimises a preference loss on (chosen, rejected) pairs.

Each pair is tokenized twice with the prompt as a user turn (the same chat rendering and assistant
mask as ``r1 sft``): ``prompt + chosen`` and ``prompt + rejected``. A sequence's log-probability is
the sum of its completion tokens' log-probs. The frozen reference's log-probs of every pair are
computed once, before the first step, and cached in ``<output_dir>/ref_logps.json`` (keyed by the
reference and the tokenized data, so a resume never recomputes them and a changed input never reuses
them). The loss of a step is the mean over its pairs of :func:`r1cli.rl.dpo.dpo_loss`.

Each pair runs as one row (:func:`r1cli.data.packing.collate_pairs`): the common prefix of chosen and
rejected once, the rejected part masked from the chosen part; ``data.packing`` / ``pack_length`` /
``share_prefix`` choose the layout (:func:`pair_layout`), none changes the values.

Data order, micro-batching and resume follow ``r1 sft`` (:class:`r1cli.train.sft.DataPlan`): the
pairs of step ``s`` depend only on ``s``, so ``--resume`` continues to the identical state, and the
update does not depend on micro-batch size or process count. Writes ``checkpoint-<step>/``,
``final/``, ``metrics.jsonl`` (loss, reward accuracy and margin, chosen/rejected rewards), ``loss.png``
and ``summary.json``.
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
from r1cli.errors import R1Error, did_you_mean

REF_CACHE = "ref_logps.json"


@dataclass
class Pair:
    """One tokenized pair; ``input_ids`` (both sequences) is what the data plan's fingerprint reads."""

    index: int
    chosen: Any  # r1cli.data.chat.Tokenized
    rejected: Any

    @property
    def input_ids(self) -> list[int]:
        return self.chosen.input_ids + self.rejected.input_ids


def read_pairs(cfg: Any) -> tuple[list[dict], list[str]]:
    """The pair records of ``cfg.data``, each checked: the three fields present and strings, chosen and
    rejected different. A bad record is one R1Error naming file:line and the field."""
    from r1cli.data.io import read_located

    d = cfg.data
    if not d.path:
        raise R1Error("data.path is required: preference pairs (e.g. pairs.jsonl from `r1 curate --steps pairs`); "
                      "set it with --data PATH")
    records, where = read_located(d.path, split=d.split)
    if d.limit:
        records, where = records[:d.limit], where[:d.limit]
    if not records:
        raise R1Error(f"{d.path}: no records")
    for record, at in zip(records, where, strict=True):
        for field in (d.prompt_field, d.chosen_field, d.rejected_field):
            if field not in record:
                raise R1Error(f"{at}: no field '{field}'{did_you_mean(field, list(record))}; "
                              f"fields: {', '.join(record)}")
            value = record[field]
            if not isinstance(value, str):
                raise R1Error(f"{at}: field '{field}' must be a string, got {type(value).__name__} {value!r:.40}")
        if record[d.chosen_field] == record[d.rejected_field]:
            raise R1Error(f"{at}: chosen and rejected are the same text; a pair needs two different completions")
    return records, where


def tokenize_pairs(records: list[dict], tokenizer: Any, cfg: Any) -> tuple[list[Pair], dict]:
    """Both sequences of every pair, cut at ``data.max_length``; pairs left with no completion token dropped."""
    from r1cli.data.chat import Tokenized, end_of_turn_text, tokenize_record
    from r1cli.generation.prompts import fill_template

    d = cfg.data
    eot = end_of_turn_text(tokenizer)
    pairs, stats = [], {"pairs": len(records), "kept": 0, "truncated": 0, "dropped_no_completion": 0}
    for i, record in enumerate(records):
        prompt = fill_template(d.prompt_template, record)
        seqs = []
        for field in (d.chosen_field, d.rejected_field):
            if d.chat_template:
                msgs = ([{"role": "system", "content": d.system_prompt}] if d.system_prompt else []) + [
                    {"role": "user", "content": prompt}, {"role": "assistant", "content": record[field]}]
                ex = tokenize_record(tokenizer, msgs, end_of_turn=eot)
            else:
                p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
                c_ids = tokenizer(record[field], add_special_tokens=False)["input_ids"]
                ex = Tokenized(p_ids + c_ids, [0] * len(p_ids) + [1] * len(c_ids))
            if len(ex) > d.max_length:
                ex = Tokenized(ex.input_ids[:d.max_length], ex.loss_mask[:d.max_length])
                stats["truncated"] += 1
            seqs.append(ex)
        if any(sum(ex.loss_mask[1:]) == 0 for ex in seqs):
            stats["dropped_no_completion"] += 1
            continue
        pairs.append(Pair(i, *seqs))
    stats["kept"] = len(pairs)
    if not pairs:
        raise R1Error(f"{d.path}: no pair left to train on ({stats}); raise data.max_length")
    return pairs, stats


def sequence_logps(model_forward: Any, batch: Any, *, logits_mask: bool = False) -> Any:
    """``[2n]`` (a :class:`r1cli.data.packing.PairBatch`) or ``[B]`` (a padded ``Batch``: labels != -100)
    sums of the completion tokens' log-probs. ``logits_mask``: the model takes a boolean
    ``logits_to_keep`` and computes logits only at the positions read."""
    import torch

    from r1cli.data.packing import PairBatch
    from r1cli.rl import token_logprobs

    if not isinstance(batch, PairBatch):
        logits = model_forward(batch.model_inputs()).logits
        keep = batch.labels != -100
        ids = torch.where(keep, batch.labels, torch.zeros_like(batch.labels))
        return (token_logprobs(logits, ids) * keep).sum(dim=1)
    inputs = batch.batch.model_inputs()
    if logits_mask:
        inputs["logits_to_keep"] = batch.keep
    logits = model_forward(inputs).logits
    picked = logits[batch.kept] if logits_mask else logits[batch.rows, batch.cols]  # [N, V]
    lp = token_logprobs(picked.unsqueeze(0), batch.targets.unsqueeze(0))[0]  # [N]
    return torch.zeros(2 * batch.n_pairs, dtype=lp.dtype, device=lp.device).index_add(0, batch.seq, lp)


def _pair_batch(pairs: list[Pair], pad_id: int, device: str, layout: dict) -> Any:
    from r1cli.data.packing import collate_pairs

    return collate_pairs([(p.chosen, p.rejected) for p in pairs], pad_id, **layout).to(device)


def pair_layout(cfg: Any, attn: str, model: Any) -> dict:
    """How :func:`r1cli.data.packing.collate_pairs` lays out the pairs of a micro-batch (``cfg.data``)."""
    from r1cli.data.packing import MASK_ATTN, POSITION_ID_ATTN

    d = cfg.data
    if d.share_prefix and attn not in MASK_ATTN:  # said here, before the reference pass, as a config error
        raise R1Error(f"data.share_prefix needs an attention that takes a mask (sdpa or eager), not '{attn}'; "
                      "leave it unset (null) or set model.attn_implementation=sdpa")
    if d.packing is None:
        row_tokens = (d.pack_length or d.max_length) if attn in POSITION_ID_ATTN else None
    else:
        row_tokens = (d.pack_length or d.max_length) if d.packing else 0
    return {"row_tokens": row_tokens, "attn_implementation": attn,
            "dtype": next(model.parameters()).dtype, "share_prefix": d.share_prefix}


def reference_logps(cfg: Any, pairs: list[Pair], pad_id: int, ctx: Any, fingerprint: str, out_dir: Path,
                    policy: Any, layout: dict) -> dict[int, tuple[float, float]]:
    """``{pair index: (chosen, rejected)}`` under the frozen reference, from the cache when it matches."""
    import torch

    from r1cli.data.io import atomic_write_json
    from r1cli.train.model_utils import load_for_training
    from r1cli.train.sft import supports_logits_mask

    ref_path = cfg.ref_model or cfg.model.path
    key = hashlib.sha256(f"{ref_path}|{fingerprint}|{cfg.model.dtype}".encode()).hexdigest()[:16]
    cache = out_dir / REF_CACHE
    if cache.is_file():
        try:
            data = json.loads(cache.read_text(encoding="utf-8"))
            if data.get("key") == key:
                return {int(k): (v[0], v[1]) for k, v in data["logps"].items()}
        except (ValueError, KeyError, TypeError, IndexError):
            pass
    if cfg.ref_model:
        ref, _, _ = load_for_training(cfg.model.model_copy(update={"path": cfg.ref_model}), device=ctx.device)
    else:
        ref = policy  # not trained yet: step 0's policy is the reference
    ref.eval()
    out: dict[int, tuple[float, float]] = {}
    mb = 4 * max(1, cfg.train.per_device_batch_size)  # no activations are kept: larger batches than training
    logits_mask = supports_logits_mask(ref)
    # each pair's log-probs are its own: chunks of similar lengths pad least
    by_length = sorted(pairs, key=lambda p: (len(p.chosen.input_ids) + len(p.rejected.input_ids), p.index))
    with torch.inference_mode():
        for lo in range(0, len(by_length), mb):
            chunk = by_length[lo:lo + mb]
            logps = sequence_logps(lambda inputs: ref(**inputs), _pair_batch(chunk, pad_id, ctx.device, layout),
                                   logits_mask=logits_mask)
            for j, p in enumerate(chunk):
                out[p.index] = (float(logps[j]), float(logps[len(chunk) + j]))
    if ref is policy:
        policy.train()
    if ctx.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(cache, {"key": key, "reference": str(ref_path), "logps": {str(k): v for k, v in out.items()}})
    ctx.barrier()
    return out


def _finished(out_dir: Path) -> int | None:
    try:
        summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return int(summary.get("steps", 0)) if (out_dir / "final").is_dir() and summary.get("final_dir") else None


def run_dpo(cfg: Any, *, config_yaml: str | None = None) -> dict:
    """Train per ``cfg`` (an :class:`r1cli.config.dpo.DPOConfig`); return a summary dict."""
    import torch

    from r1cli.config.core import to_yaml
    from r1cli.data.chat import ensure_chat_template
    from r1cli.data.io import atomic_write_text
    from r1cli.rl.dpo import dpo_loss
    from r1cli.train.checkpoint import list_checkpoints, resolve_resume, save_hf_model
    from r1cli.train.distributed import init_distributed
    from r1cli.train.engine import build_engine
    from r1cli.train.logging import MetricsLogger, TrainProgress, plot_loss_curve
    from r1cli.train.model_utils import load_for_training
    from r1cli.train.optim import warmup_steps_for
    from r1cli.train.sft import DataPlan, TrainingDivergedError, micro_slots, supports_logits_mask

    t, k = cfg.train, cfg.dpo
    config_yaml = config_yaml or to_yaml(cfg)
    out_dir = Path(cfg.output_dir)
    if t.cpu_threads:
        torch.set_num_threads(t.cpu_threads)
    ctx = init_distributed(t.device)
    random.seed(t.seed)
    torch.manual_seed(t.seed)
    bf16 = ctx.device.startswith("cuda") if t.bf16 is None else t.bf16
    records, _ = read_pairs(cfg)  # a bad record fails here, before the model loads
    done = ctx.broadcast_object(_finished(out_dir) if ctx.is_main else None)
    resume_from = resolve_resume(cfg.resume, out_dir, ctx)
    if done is not None and resume_from is None:
        if ctx.is_main:
            err.print(f"r1 dpo: {out_dir} already finished at step {done}; nothing to do; the model is in "
                      f"{out_dir / 'final'}")
        ctx.close()
        return {"output_dir": str(out_dir), "final_dir": str(out_dir / "final"), "steps": done,
                "already_finished": True}
    model, tokenizer, attn = load_for_training(cfg.model, device=ctx.device,
                                               gradient_checkpointing=t.gradient_checkpointing)
    if ensure_chat_template(tokenizer):
        model.resize_token_embeddings(len(tokenizer))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    pairs, data_stats = tokenize_pairs(records, tokenizer, cfg)
    g = t.per_device_batch_size * t.gradient_accumulation_steps * ctx.world_size
    plan = DataPlan([[p] for p in pairs], g, t.seed, cfg.data.shuffle)
    fingerprint = plan.fingerprint()
    total = t.max_steps or max(1, math.ceil(t.num_epochs * plan.steps_per_epoch))

    stale = ctx.broadcast_object(list_checkpoints(out_dir) if ctx.is_main else None)
    if resume_from is None and stale and not cfg.resume:
        raise R1Error(f"{out_dir} already holds checkpoints (up to {stale[-1][1].name}); continue that run with "
                      "--resume latest, or start afresh in another --output-dir")
    layout = pair_layout(cfg, attn, model)
    logits_mask = supports_logits_mask(model)
    ref = reference_logps(cfg, pairs, pad_id, ctx, fingerprint, out_dir, model, layout) if resume_from is None or \
        (out_dir / REF_CACHE).is_file() else None
    if ref is None:
        raise R1Error(f"--resume {resume_from}: {out_dir / REF_CACHE} (the reference log-probs) is missing")
    engine = build_engine(model, t, ctx, total_steps=total, warmup_steps=warmup_steps_for(total, t.warmup_ratio),
                          bf16=bf16)
    start = 0
    if resume_from is not None:
        state = engine.load(resume_from)
        if state.get("data_fingerprint") not in (None, fingerprint):
            raise R1Error(f"--resume {resume_from}: the pairs or batch layout differ from the checkpoint's run; "
                          "resume with the same data and batch settings, or start a new --output-dir")
        start = int(state["step"])
        if start >= total:
            if ctx.is_main:
                err.print(f"r1 dpo: {out_dir} already finished at step {start}; nothing to do")
            ctx.close()
            return {"output_dir": str(out_dir), "steps": start, "already_finished": True}
    if ctx.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        if not (out_dir / "config.yaml").is_file():
            atomic_write_text(out_dir / "config.yaml", config_yaml)
        err.print(f"[bold]r1 dpo[/bold] {len(pairs)} pairs ({data_stats['truncated']} sequences truncated, "
                  f"{data_stats['dropped_no_completion']} pairs dropped); loss {k.loss}, beta {k.beta}; {total} steps "
                  f"of {g} pairs on {ctx.world_size} process(es), {ctx.device}, attn {attn}"
                  + (f"; resuming at step {start} from {resume_from}" if resume_from else ""))
    logger = MetricsLogger(out_dir, enabled=ctx.is_main, report_to=t.report_to, run_name=out_dir.name,
                           config=cfg.model_dump(mode="json"), resume_step=start if resume_from else None)
    progress = TrainProgress(total, initial_step=start, enabled=ctx.is_main, description="dpo")
    extra = {"data_fingerprint": fingerprint, "steps_per_epoch": plan.steps_per_epoch, "data": data_stats}
    uniform = ctx.is_distributed or engine.kind == "deepspeed"
    t0 = time.monotonic()
    step, last, tokens_total, last_ckpt = start, {}, 0, str(resume_from) if resume_from else None
    try:
        while step < total:
            units = plan.step_units(step)
            n_step = len(units)
            slots = micro_slots(units, rank=ctx.rank, world_size=ctx.world_size,
                                micro_batch=t.per_device_batch_size, grad_accum=t.gradient_accumulation_steps)
            run = slots if uniform else [s for s in slots if s]
            local = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]  # loss, reward accuracy, margin, chosen, rejected, tokens
            for i, slot in enumerate(run):
                chunk = [u[0] for u in (slot or [plan.units[0]])]
                batch = _pair_batch(chunk, pad_id, ctx.device, layout)
                logps = sequence_logps(engine.forward, batch, logits_mask=logits_mask)
                n = len(chunk)
                ref_c = torch.tensor([ref[p.index][0] for p in chunk], device=logps.device)
                ref_r = torch.tensor([ref[p.index][1] for p in chunk], device=logps.device)
                lengths = batch.lengths.to(logps.dtype)
                losses, stats = dpo_loss(logps[:n], logps[n:], ref_c, ref_r, beta=k.beta, loss_type=k.loss,
                                         label_smoothing=k.label_smoothing, chosen_lengths=lengths[:n],
                                         rejected_lengths=lengths[n:], nll_coef=k.nll_coef)
                weight = ctx.world_size / max(1, n_step) if slot else 0.0
                engine.backward(losses.sum() * weight, sync=i == len(run) - 1)
                if slot:
                    cr, rr = stats["chosen_rewards"], stats["rejected_rewards"]
                    local[0] += float(losses.detach().sum())
                    local[1] += float((cr > rr).float().sum())
                    local[2] += float((cr - rr).sum())
                    local[3] += float(cr.sum())
                    local[4] += float(rr.sum())
                    local[5] += batch.num_tokens
            sums = ctx.all_reduce_sum(local)
            loss = sums[0] / max(1, n_step)
            grad_norm = engine.step() if math.isfinite(loss) else float("nan")
            if not (math.isfinite(loss) and math.isfinite(grad_norm)):
                raise TrainingDivergedError(
                    f"{'loss' if not math.isfinite(loss) else 'gradient norm'} became non-finite at step {step + 1}; "
                    f"stopped without updating. Last good checkpoint: {last_ckpt or 'none'}. Try a lower "
                    "train.learning_rate or dpo.beta")
            step += 1
            tokens_total += int(sums[5])
            last = {"loss": loss, "reward_accuracy": sums[1] / max(1, n_step), "reward_margin": sums[2] / max(1, n_step),
                    "chosen_reward": sums[3] / max(1, n_step), "rejected_reward": sums[4] / max(1, n_step),
                    "lr": engine.lr(), "grad_norm": grad_norm, "epoch": round(step / plan.steps_per_epoch, 4),
                    "tokens": tokens_total}
            if step % t.logging_steps == 0 or step == total:
                logger.log(last, step=step)
                progress.update(step, loss=loss, lr=last["lr"], grad_norm=grad_norm)
            if (t.save_steps and step % t.save_steps == 0) or (step == total and t.save_steps):
                last_ckpt = str(engine.save(str(out_dir), step, tokenizer, {**extra, "tokens": tokens_total},
                                            config_yaml, t.save_total_limit))
    finally:
        progress.close()
        logger.close()
    elapsed = time.monotonic() - t0
    final_dir = None
    if t.save_final:
        state_dict = engine.final_state_dict()
        if ctx.is_main:
            final_dir = save_hf_model(out_dir / "final", engine.module, tokenizer, state_dict=state_dict,
                                      config_yaml=config_yaml)
        ctx.barrier()
    summary = {"output_dir": str(out_dir), "final_dir": str(final_dir) if final_dir else None, "steps": step,
               "start_step": start, "pairs": len(pairs), "data": data_stats, "seconds": round(elapsed, 2),
               "tokens": tokens_total, "tokens_per_s": round(tokens_total / max(1e-9, elapsed), 1),
               "world_size": ctx.world_size, "last_checkpoint": last_ckpt,
               **{f"final_{key}": value for key, value in last.items() if key in ("loss", "reward_accuracy",
                                                                               "reward_margin")}}
    if ctx.is_main:
        png = plot_loss_curve(out_dir / "metrics.jsonl", out_dir / "loss.png", title=f"r1 dpo: {out_dir.name}")
        summary["loss_png"] = str(png) if png else None
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        err.print(f"[green]done[/green] {step} steps, loss {last.get('loss', float('nan')):.4f}, reward accuracy "
                  f"{last.get('reward_accuracy', float('nan')):.2f}; model -> {final_dir or '(not saved)'}")
    ctx.close()
    return summary


def run_iterative_dpo(cfg: Any) -> dict:
    """``cfg.rounds`` rounds of sample -> pairs -> DPO, each in ``<output_dir>/round-<k>/`` (resumable:
    ``r1 sample`` resumes its samples, the pairs are a pure function of them, ``r1 dpo`` resumes its
    checkpoints, and a finished round is skipped). ``<output_dir>/final`` links the last round's model."""
    import os

    from r1cli.config.sample import SampleConfig
    from r1cli.curate.pairs import pairs_rows
    from r1cli.data.io import atomic_write_jsonl, read_jsonl
    from r1cli.generation.run import run_sample

    it = cfg.iterate
    if not it.problems:
        raise R1Error("rounds: iterate.problems is required: problems with gold answers to sample each round "
                      "(set it with --set iterate.problems=FILE)")
    if cfg.data.path:
        raise R1Error("--rounds samples its own pairs each round from iterate.problems (--problems); drop --data "
                      f"({cfg.data.path}), or drop --rounds to train once on that pairs file")
    out = Path(cfg.output_dir)
    policy, rounds = cfg.model.path, []
    for k in range(1, cfg.rounds + 1):
        rdir = out / f"round-{k}"
        err.print(f"[bold]r1 dpo round {k}/{cfg.rounds}[/bold]: sampling with {policy}")
        sample_cfg = SampleConfig.model_validate({
            "output_dir": str(rdir / "samples"), "model": {**cfg.model.model_dump(), "path": policy},
            "data": {"path": it.problems, "prompt_template": cfg.data.prompt_template, "limit": it.limit},
            "generation": {**cfg.generation.model_dump(), "system_prompt": cfg.data.system_prompt,
                           "seed": (cfg.generation.seed or 0) + k}})
        run_sample(sample_cfg)
        kept, removed = pairs_rows(list(read_jsonl(rdir / "samples" / "samples.jsonl")), select=it.select,
                                   min_margin=it.min_margin, seed=cfg.train.seed + k)
        atomic_write_jsonl(rdir / "pairs.jsonl", kept)
        reasons: dict[str, int] = {}
        for row in removed:
            reasons[row["reason"]] = reasons.get(row["reason"], 0) + 1
        if not kept:
            raise R1Error(f"round {k}: no pair ({reasons}); the policy gets every problem right or wrong: sample more "
                          "(generation.n) or use problems of middling difficulty")
        round_cfg = cfg.model_copy(update={
            "output_dir": str(rdir / "dpo"), "rounds": None,
            "model": cfg.model.model_copy(update={"path": policy}),
            "data": cfg.data.model_copy(update={"path": str(rdir / "pairs.jsonl"), "limit": None}),
            "resume": "latest"})
        summary = run_dpo(round_cfg)
        policy = str(rdir / "dpo" / "final")
        rounds.append({"round": k, "pairs": len(kept), "dropped": reasons,
                       "final_loss": summary.get("final_loss"), "reward_accuracy": summary.get("final_reward_accuracy")})
    final = out / "final"
    if final.is_symlink() or final.exists():
        final.unlink()
    os.symlink(os.path.relpath(policy, out), final)
    result = {"output_dir": str(out), "final_dir": str(final), "rounds": rounds}
    (out / "summary.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    err.print(f"[green]done[/green] {cfg.rounds} rounds; model -> {final}")
    return result
