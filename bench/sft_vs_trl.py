"""r1 sft vs TRL's SFTTrainer: same tiny model, same data, same hyperparameters, packing off and on.

    python bench/sft_vs_trl.py [--steps 40] [--batch-size 16] [--pack-batch-size 4] [--threads 2]

Both trainers see the same examples in the same order (no shuffling: r1 ``data.shuffle=false``,
TRL ``train_sampling_strategy="sequential"``), fp32 on CPU, loss on assistant tokens only
(TRL ``assistant_only_loss=True`` through the template's generation tags), AdamW, cosine schedule
with warmup, grad clip 1.0, one process. Tokens/s counts the real (non-pad) tokens a trainer fed
to the model, divided by its training-loop time (model loading and tokenization excluded for both:
r1's ``summary["seconds"]``, TRL's ``train_runtime``). On a shared machine a load spike can hit
one run and not the other, so the median over steps of each step's tokens/s is reported as well
(``speedup_median_step``); it is the number to read when the two disagree.

Packing differs by design: r1 packs rows of ``max_length`` (best-fit decreasing) and keeps
attention inside each example with a block-diagonal mask per row; TRL's "bfd" packing turns on
padding-free batches (all rows of a batch flattened into one sequence, boundaries read from
position ids), which on CPU/SDPA makes attention span the whole flattened batch. Row composition
differs, so packed loss curves are compared as curves, not token for token.
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
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def batch_size(a: argparse.Namespace, packing: bool) -> int:
    """Examples per batch unpacked; packed rows of max_length tokens per batch packed."""
    return a.pack_batch_size if packing else a.batch_size


def run_r1(model: str, data: str, out: Path, a: argparse.Namespace, packing: bool) -> dict:
    from r1cli.config.core import validate
    from r1cli.config.sft import SFTConfig
    from r1cli.train.sft import run_sft

    cfg = validate(SFTConfig, {
        "output_dir": str(out), "model": {"path": model, "attn_implementation": "sdpa"},
        "data": {"path": data, "max_length": a.max_length, "packing": packing, "shuffle": False},
        "train": {"learning_rate": a.lr, "lr_scheduler": "cosine", "warmup_ratio": 0.1, "max_grad_norm": 1.0,
                  "max_steps": a.steps, "per_device_batch_size": batch_size(a, packing), "seed": 0, "device": "cpu",
                  "cpu_threads": a.threads, "logging_steps": 1, "save_final": False, "bf16": False}})
    s = run_sft(cfg)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return {"tokens": s["tokens"], "seconds": s["seconds"], "tokens_per_s": s["tokens"] / s["seconds"],
            "median_step_tokens_per_s": median([r["tokens_per_s"] for r in rows]),
            "losses": [r["loss"] for r in rows]}


def run_trl(model_dir: str, data: str, out: Path, a: argparse.Namespace, packing: bool) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig as TRLConfig
    from trl import SFTTrainer

    from r1cli.data.io import read_jsonl

    torch.set_num_threads(a.threads)
    records = [{"messages": r["messages"]} for r in read_jsonl(data)]
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="sdpa")
    args = TRLConfig(
        output_dir=str(out), max_steps=a.steps, per_device_train_batch_size=batch_size(a, packing), learning_rate=a.lr,
        lr_scheduler_type="cosine", warmup_steps=0.1, max_grad_norm=1.0, weight_decay=0.0, seed=0,
        logging_steps=1, save_strategy="no", report_to="none", use_cpu=True, bf16=False, fp16=False,
        max_length=a.max_length, packing=packing, assistant_only_loss=True,
        train_sampling_strategy="sequential", dataloader_num_workers=0, disable_tqdm=True)
    counted = {"tokens": 0, "step_tokens": 0, "t0": 0.0, "rates": []}

    class CountingTrainer(SFTTrainer):
        def training_step(self, model, inputs, *rest, **kw):  # noqa: ANN001
            mask = inputs.get("attention_mask")
            n = int(mask.sum()) if mask is not None else int(inputs["input_ids"].numel())
            counted["tokens"] += n
            counted["step_tokens"] += n
            return super().training_step(model, inputs, *rest, **kw)

    class StepTimer(TrainerCallback):
        def on_step_begin(self, *args, **kw):  # noqa: ANN002, ANN003
            counted["t0"], counted["step_tokens"] = time.perf_counter(), 0

        def on_step_end(self, *args, **kw):  # noqa: ANN002, ANN003
            counted["rates"].append(counted["step_tokens"] / (time.perf_counter() - counted["t0"]))

    trainer = CountingTrainer(model=model, args=args, train_dataset=Dataset.from_list(records),
                              processing_class=tok, callbacks=[StepTimer()])
    result = trainer.train()
    secs = float(result.metrics["train_runtime"])
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {"tokens": counted["tokens"], "seconds": secs, "tokens_per_s": counted["tokens"] / secs,
            "median_step_tokens_per_s": median(counted["rates"]), "losses": losses}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=16, help="examples per step, packing off")
    p.add_argument("--pack-batch-size", type=int, default=4, help="packed rows per step, packing on")
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--n", type=int, default=2000, help="SFT records (arith teacher traces)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="bench/results/sft.json")  # relative to the repo root
    a = p.parse_args()

    import torch
    import transformers
    import trl

    from r1cli.models.tiny import init_tiny
    from r1cli.tasks import write_task_data

    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = str(init_tiny(tmp / "model"))
        data = str(write_task_data("arith", a.n, 0, tmp / "data")["sft"])
        results = {}
        for packing in (False, True):
            key = "packing" if packing else "no_packing"
            r1 = run_r1(model, data, tmp / f"r1-{key}", a, packing)
            ref = run_trl(model, data, tmp / f"trl-{key}", a, packing)
            n = min(len(r1["losses"]), len(ref["losses"]))
            gaps = [abs(x - y) for x, y in zip(r1["losses"][:n], ref["losses"][:n], strict=True)]
            results[key] = {
                "r1": {k: v for k, v in r1.items() if k != "losses"},
                "trl": {k: v for k, v in ref.items() if k != "losses"},
                "speedup_tokens_per_s": r1["tokens_per_s"] / ref["tokens_per_s"],
                "speedup_median_step": r1["median_step_tokens_per_s"] / ref["median_step_tokens_per_s"],
                "loss_max_abs_gap": max(gaps) if gaps else None,
                "loss_max_abs_gap_step": (gaps.index(max(gaps)) + 1) if gaps else None,
                "loss_first_last": {"r1": [r1["losses"][0], r1["losses"][-1]],
                                    "trl": [ref["losses"][0], ref["losses"][-1]]},
                "loss_mean_last_8": {"r1": sum(r1["losses"][-8:]) / len(r1["losses"][-8:]),
                                     "trl": sum(ref["losses"][-8:]) / len(ref["losses"][-8:])},
                "losses": {"r1": r1["losses"], "trl": ref["losses"]},
            }
            print(f"{key}: r1 {r1['tokens_per_s']:,.0f} tok/s, TRL {ref['tokens_per_s']:,.0f} tok/s, "
                  f"x{results[key]['speedup_tokens_per_s']:.2f} (median step x{results[key]['speedup_median_step']:.2f}); "
                  f"max loss gap {results[key]['loss_max_abs_gap']:.2e}", file=sys.stderr)
    report = {
        "bench": "sft_vs_trl", "setup": {**vars(a), "model": "tiny Qwen2 (r1 init-model tiny defaults)",
                                         "data": f"arith teacher traces, n={a.n}, seed 0", "dtype": "float32",
                                         "attn": "sdpa", "schedule": "cosine, warmup 0.1, clip 1.0"},
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__,
                     "python": platform.python_version()},
        "machine": {"cpus": os.cpu_count(), "load_avg_at_end": os.getloadavg()},
        "results": results, "wall_s": round(time.time() - t0, 1),
    }
    out = Path(a.out) if Path(a.out).is_absolute() else ROOT / a.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out} in {report['wall_s']} s", file=sys.stderr)


if __name__ == "__main__":
    main()
