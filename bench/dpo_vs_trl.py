"""r1 dpo vs TRL's DPOTrainer: same tiny model, same pairs, same hyperparameters, one process on CPU.

    python bench/dpo_vs_trl.py [--steps 30] [--batch-size 8] [--epochs 1] [--threads 1] [--repeats 3]

Both train the sigmoid DPO loss (β 0.1) with AdamW, constant lr, grad clip 1.0, fp32, no shuffling,
``--batch-size`` pairs per step, from the same tiny-world arith pairs (chosen: the problem's worked
trace, rejected: another problem's trace, a wrong answer; they share the prompt and the trace's first
tokens, like pairs sampled from a policy). Reported per trainer: wall time of the training loop,
pairs/s and real (non-pad) tokens/s, and the loss curve; each trainer runs ``--repeats`` times,
interleaved with the others, and the median run is reported (this machine's speed drifts by ~15%).

- r1: ``run_dpo``'s summary seconds (the training loop) plus its one reference pass over all pairs
  (timed separately and added: ``seconds_with_reference``), the honest total; its default layout
  (one pair per row, the common prefix of chosen and rejected run once; ``--r1-set KEY=VALUE`` sets
  other ``data.*`` layouts, e.g. ``share_prefix=false``);
- TRL: ``train_runtime``, with the same real-token count, twice: as configured by default (the
  reference model runs every step inside it), and with ``precompute_ref_log_probs=True`` (one
  reference pass in ``DPOTrainer.__init__``, timed and added like r1's).

Equal work: both run fp32 with no gradient checkpointing (TRL's defaults are bf16 autocast and
gradient checkpointing; bf16 on a CPU without bf16 instructions is ~8x slower, which says nothing
about either trainer), and ``max_length`` 512 (no pair is cut).

Writes bench/results/dpo.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def make_pairs(n: int) -> list[dict]:
    """Tiny-world arith pairs shaped like ``r1 curate --steps pairs`` output: chosen is the problem's own
    worked trace, rejected the trace of the next problem (a wrong answer here), so that the two share
    the prompt and the trace's opening only, as sampled pairs do (not most of the completion)."""
    from r1cli.tasks import get_task, sft_record

    task = get_task("arith")
    recs = list(task.generate(n + 1, 0))
    traces = [sft_record(task, rec)["messages"][1]["content"] for rec in recs]
    pairs = []
    for i, rec in enumerate(recs[:n]):
        if str(recs[i + 1]["answer"]) != str(rec["answer"]):
            pairs.append({"id": rec["id"], "problem": rec["problem"], "chosen": traces[i], "rejected": traces[i + 1]})
    return pairs


def run_r1(model: str, data: Path, out: Path, a: argparse.Namespace) -> dict:
    from r1cli.config.core import validate
    from r1cli.config.dpo import DPOConfig
    from r1cli.train import dpo as dpo_mod

    cfg = validate(DPOConfig, {
        "output_dir": str(out), "model": {"path": model, "attn_implementation": "sdpa"},
        "data": {"path": str(data), "max_length": 512, "shuffle": False, **a.r1_data},
        "dpo": {"beta": 0.1, "loss": "sigmoid"},
        "train": {"learning_rate": a.lr, "lr_scheduler": "constant", "max_grad_norm": 1.0, "max_steps": a.steps,
                  "per_device_batch_size": a.batch_size, "seed": 0, "device": "cpu", "cpu_threads": a.threads,
                  "logging_steps": 1, "save_final": False, "bf16": False}})
    original, spent = dpo_mod.reference_logps, {}

    def timed_reference(*args, **kwargs):
        t0 = time.perf_counter()
        out_ = original(*args, **kwargs)
        spent["s"] = time.perf_counter() - t0
        return out_

    dpo_mod.reference_logps = timed_reference
    try:
        s = dpo_mod.run_dpo(cfg)
    finally:
        dpo_mod.reference_logps = original
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    total = s["seconds"] + spent["s"]
    pairs = a.steps * a.batch_size
    return {"tokens": s["tokens"], "seconds_loop": s["seconds"], "seconds_reference_pass": round(spent["s"], 3),
            "seconds_with_reference": round(total, 3), "tokens_per_s": s["tokens"] / total,
            "pairs_per_s": pairs / total, "loss": [r["loss"] for r in rows]}


def run_trl(model: str, pairs: list[dict], out: Path, a: argparse.Namespace, tokens: int,
            precompute_ref: bool = False) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    torch.set_num_threads(a.threads)
    tok = AutoTokenizer.from_pretrained(model)
    policy = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32, attn_implementation="sdpa")
    ref = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32, attn_implementation="sdpa")
    rows = [{"prompt": [{"role": "user", "content": p["problem"]}],
             "chosen": [{"role": "assistant", "content": p["chosen"]}],
             "rejected": [{"role": "assistant", "content": p["rejected"]}]} for p in pairs]
    args = DPOConfig(output_dir=str(out), per_device_train_batch_size=a.batch_size, max_steps=a.steps, beta=0.1,
                     learning_rate=a.lr, lr_scheduler_type="constant", max_grad_norm=1.0, report_to=[], use_cpu=True,
                     logging_steps=1, save_strategy="no", seed=0, max_length=512, train_sampling_strategy="sequential",
                     dataloader_num_workers=0, bf16=False, gradient_checkpointing=False,
                     precompute_ref_log_probs=precompute_ref)
    spent = {"s": 0.0}
    original = DPOTrainer._precompute_ref_logps  # TRL runs it in __init__: timed and added, as for r1

    def timed_precompute(self, *args_, **kwargs):
        t0 = time.perf_counter()
        out_ = original(self, *args_, **kwargs)
        spent["s"] += time.perf_counter() - t0
        return out_

    DPOTrainer._precompute_ref_logps = timed_precompute
    try:
        trainer = DPOTrainer(model=policy, ref_model=ref, args=args, train_dataset=Dataset.from_list(rows),
                             processing_class=tok)
    finally:
        DPOTrainer._precompute_ref_logps = original
    result = trainer.train()
    seconds = result.metrics["train_runtime"] + spent["s"]
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {"seconds": round(seconds, 3), "seconds_reference_pass": round(spent["s"], 3), "tokens_per_s": tokens / seconds, "pairs_per_s": a.steps * a.batch_size / seconds,
            "loss": losses}


def median_run(runs: list[dict], key: str) -> dict:
    """The run of median time, with every repeat's time beside it."""
    ordered = sorted(runs, key=lambda r: r[key])
    return {**ordered[len(ordered) // 2], "repeats_seconds": [r[key] for r in runs]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--pairs", type=int, default=2000, help="pairs generated (the first steps*batch/epochs are used)")
    p.add_argument("--epochs", type=int, default=1, help="passes over the pairs (Light-R1's DPO: 3)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3, help="runs of each trainer, interleaved; the median is reported")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "dpo.json")
    p.add_argument("--r1-set", action="append", default=[], metavar="KEY=VALUE",
                   help="r1 data.* options, e.g. packing=false, pack_length=256, share_prefix=false")
    a = p.parse_args()
    import yaml

    a.r1_data = {k: yaml.safe_load(v) for k, v in (x.split("=", 1) for x in a.r1_set)}  # as --set reads values

    import torch

    from r1cli.models.tiny import init_tiny

    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = str(init_tiny(tmp / "model", seed=0))
        pairs = make_pairs(a.pairs)[: a.steps * a.batch_size // a.epochs]  # in order, `epochs` times, for both
        data = tmp / "pairs.jsonl"
        data.write_text("".join(json.dumps(x) + "\n" for x in pairs))
        runs_: dict[str, list[dict]] = {"r1": [], "trl": [], "trl_precompute_ref": []}
        for rep in range(a.repeats):  # interleaved, so that a slow spell of the machine hits all three
            runs_["r1"].append(run_r1(model, data, tmp / f"r1-{rep}", a))
            tokens = runs_["r1"][0]["tokens"]
            runs_["trl"].append(run_trl(model, pairs, tmp / f"trl-{rep}", a, tokens))
            runs_["trl_precompute_ref"].append(run_trl(model, pairs, tmp / f"trl-pre-{rep}", a, tokens,
                                                       precompute_ref=True))
        r1, trl, trl_pre = (median_run(runs_[k], "seconds_with_reference" if k == "r1" else "seconds")
                            for k in ("r1", "trl", "trl_precompute_ref"))
    import trl as trl_mod

    result = {
        "bench": "dpo_vs_trl", "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": "python bench/dpo_vs_trl.py " + " ".join(sys.argv[1:]),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "threads": a.threads,
                    "torch": torch.__version__, "trl": trl_mod.__version__, "loadavg": list(os.getloadavg())},
        "setup": {"repeats": a.repeats, "r1_data": a.r1_data, "epochs": a.epochs, "steps": a.steps, "pairs_per_step": a.batch_size, "pairs": len(pairs), "lr": a.lr, "beta": 0.1,
                  "model": "r1 init-model tiny (seed 0)"},
        "r1": r1, "trl": trl, "trl_precompute_ref": trl_pre,
        "speedup_tokens_per_s": round(r1["tokens_per_s"] / trl["tokens_per_s"], 2),
        "speedup_vs_trl_precompute_ref": round(r1["tokens_per_s"] / trl_pre["tokens_per_s"], 2),
        "first_loss": {"r1": r1["loss"][0], "trl": trl["loss"][0], "trl_precompute_ref": trl_pre["loss"][0]},
        "notes": "tokens counted once (r1's real-token count of the whole chosen and rejected sequences) for all; "
                 "r1's time includes its one reference pass; TRL (trl) runs its reference every step, "
                 "trl_precompute_ref once before training (timed and added); each the median of the repeats; "
                 "fp32 and no gradient checkpointing for all",
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    runs = json.loads(a.out.read_text()).get("runs", {}) if a.out.exists() else {}
    runs[f"epochs_{a.epochs}" + "".join(f"_{x}" for x in a.r1_set)] = result
    a.out.write_text(json.dumps({"bench": "dpo_vs_trl", "runs": runs}, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("speedup_tokens_per_s", "speedup_vs_trl_precompute_ref", "first_loss")},
                     indent=2))
    print(f"r1 {r1['tokens_per_s']:.0f} tok/s, TRL {trl['tokens_per_s']:.0f} tok/s -> {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
