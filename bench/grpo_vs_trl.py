"""Benchmark: `r1 grpo` beside TRL's GRPOTrainer on the same tiny model, CPU, hf generation.

Run from the repo root:  .venv/bin/python bench/grpo_vs_trl.py  [--model DIR] [--steps 6] [--threads 1]

Both trainers get the same model, prompts (tiny-world ``arith`` problems, chat template), the same
reward (r1's ``accuracy`` reward function, called by TRL as a plain Python reward), G completions per
prompt, P prompts per optimizer step (one generation per step, μ = 1, one optimizer step), the same
``max_new_tokens``, temperature 1.0, top-p 1.0, β = 0, token-mean loss (TRL's ``dapo`` loss type),
learning rate and AdamW. In its update r1 runs each group's prompt once and the G completions on its
KV cache (``grpo.share_prompts``), in length-bucketed micro-batches of about ``--micro-batch-tokens``
tokens; the gradient is the same as one padded batch (tested), which is what TRL computes. Groups
whose G rewards are all equal have a zero advantage, hence a zero gradient: r1 leaves them out of the
forward/backward (``grpo.skip_zero_advantage``, same update, tested) while TRL computes them; the JSON
records the fraction of such groups in r1's timed steps.
Generation is plain transformers on CPU on both sides: TRL calls
``model.generate``; r1 uses its ``hf`` backend (its own KV-cache decode loop sharing the policy).

Timing: each trainer runs in its own fresh process with the same ``torch`` thread count. A step is the
wall time between two consecutive step ends (TRL: ``on_step_end`` callbacks; r1: consecutive
``metrics.jsonl`` writes, one per step), so generation, rewards, the update and per-step logging are
all inside it; model loading and the first (warm-up) step are excluded. The machine is shared, so the
two trainers alternate for ``--rounds`` rounds (TRL, r1, TRL, r1, ...) and each rate is
steps / Σ step time over all its rounds; the per-round rates are kept in the JSON.

Writes bench/results/grpo.json with both rates, their ratio (goal: r1 >= 2x TRL) and the settings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run_r1(a: argparse.Namespace) -> dict:
    """Train with r1's GRPO trainer; return step-end timestamps and the final metrics."""
    from r1cli.config.core import resolve_config
    from r1cli.config.grpo import GRPOConfig
    from r1cli.train import logging as r1_logging
    from r1cli.train.grpo import run_grpo

    ends: list[float] = []
    original = r1_logging.MetricsLogger.log

    def log(self, metrics: dict, step: int) -> dict:
        record = original(self, metrics, step)
        if step > 0:
            ends.append(time.perf_counter())
        return record

    r1_logging.MetricsLogger.log = log
    cfg = resolve_config(GRPOConfig, command="grpo", sets=[
        f"model.path={a.model}", f"data.path={a.data}", f"output_dir={a.out_dir}/r1",
        f"generation.n={a.G}", f"generation.max_new_tokens={a.max_new_tokens}", "generation.temperature=1.0",
        "generation.top_p=1.0", f"grpo.prompts_per_step={a.prompts}", f"train.max_steps={a.steps + 1}",
        f"train.learning_rate={a.lr}", "train.device=cpu", "train.plots=false", "rewards.names=accuracy",
        "grpo.loss_agg=token-mean", "grpo.beta=0.0", f"grpo.micro_batch_tokens={a.micro_batch_tokens}", f"train.seed={a.seed}", "train.max_grad_norm=1.0"])
    last = run_grpo(cfg)
    logged = [json.loads(line) for line in Path(f"{a.out_dir}/r1/metrics.jsonl").read_text().splitlines()]
    zero_std = [m["frac_reward_zero_std"] for m in logged if "frac_reward_zero_std" in m][1:]  # timed steps
    return {"step_ends": ends, "accuracy_last": last.get("accuracy"),
            "frac_reward_zero_std_mean": statistics.mean(zero_std) if zero_std else None,
            "completion_length_mean_last": last.get("completion_length_mean")}


def run_trl(a: argparse.Namespace) -> dict:
    """Train with TRL's GRPOTrainer; return step-end timestamps."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from r1cli.data.io import read_jsonl
    from r1cli.rewards import get_reward

    rows = [{"prompt": [{"role": "user", "content": r["problem"]}], "answer": r["answer"]} for r in read_jsonl(a.data)]
    accuracy = get_reward("accuracy")

    def accuracy_reward(completions, answer, **kwargs):
        return [0.0 if v is None else v for v in accuracy(completions, answer=answer)]

    ends: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            ends.append(time.perf_counter())

    model = AutoModelForCausalLM.from_pretrained(a.model)
    tokenizer = AutoTokenizer.from_pretrained(a.model)
    cfg = GRPOConfig(output_dir=f"{a.out_dir}/trl", per_device_train_batch_size=a.prompts * a.G,
                     gradient_accumulation_steps=1, num_generations=a.G, max_completion_length=a.max_new_tokens,
                     temperature=1.0, top_p=1.0, beta=0.0, loss_type="dapo", learning_rate=a.lr,
                     max_steps=a.steps + 1, use_cpu=True, logging_steps=1, save_strategy="no", report_to="none",
                     seed=a.seed, max_grad_norm=1.0, disable_tqdm=True, dataloader_num_workers=0,
                     lr_scheduler_type="constant", weight_decay=0.0)
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=[accuracy_reward],
                          args=cfg, train_dataset=Dataset.from_list(rows), callbacks=[Clock()])
    trainer.train()
    return {"step_ends": ends}


def child(a: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    result = run_r1(a) if a.which == "r1" else run_trl(a)
    ends = result.pop("step_ends")
    steps = [b - c for b, c in zip(ends[1:], ends[:-1], strict=True)]  # drop the warm-up step
    result.update({"step_seconds": steps, "steps_per_s": len(steps) / sum(steps) if steps else 0.0,
                   "process_seconds": time.perf_counter() - t0})
    Path(a.result).write_text(json.dumps(result))


def make_inputs(a: argparse.Namespace, work: Path) -> None:
    from r1cli.tasks import write_task_data

    if a.model is None:
        from r1cli.models.tiny import init_tiny

        a.model = str(init_tiny(work / "model"))
        a.model_note = "init_tiny defaults, random weights (every completion runs to max_new_tokens)"
    else:
        a.model_note = a.note or a.model
    a.data = str(write_task_data("arith", 512, a.seed, work / "data")["problems"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="HF model dir (default: a fresh init_tiny model)")
    p.add_argument("--note", default=None, help="how --model was made (written to the JSON)")
    p.add_argument("--steps", type=int, default=6, help="timed steps per round (after one warm-up step)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds of each trainer")
    p.add_argument("--G", type=int, default=8)
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--max-new-tokens", type=int, default=48)
    p.add_argument("--lr", type=float, default=1e-5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--micro-batch-tokens", type=int, default=2048,
                   help="r1 only: length-bucketed micro-batches (the update is the same; TRL has no equivalent)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", default=str(ROOT / "bench" / "results" / "grpo.json"))
    p.add_argument("--which", choices=["r1", "trl"], help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--out-dir", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.which:
        child(a)
        return
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS=str(a.threads),
               TOKENIZERS_PARALLELISM="false", TRANSFORMERS_VERBOSITY="error")
    load_before = [round(x, 2) for x in os.getloadavg()]  # 1/5/15 min: was the machine quiet?
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        make_inputs(a, work)
        results: dict = {"trl": [], "r1": []}
        for rnd, which in [(r, w) for r in range(a.rounds) for w in ("trl", "r1")]:
            out = work / f"{which}-{rnd}.json"
            cmd = [sys.executable, __file__, "--which", which, "--model", a.model, "--data", a.data,
                   "--out-dir", str(work / f"{which}-{rnd}"), "--result", str(out), "--steps", str(a.steps), "--G", str(a.G),
                   "--prompts", str(a.prompts), "--max-new-tokens", str(a.max_new_tokens), "--lr", str(a.lr),
                   "--threads", str(a.threads), "--seed", str(a.seed), "--micro-batch-tokens", str(a.micro_batch_tokens)]
            run = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if run.returncode != 0:
                sys.exit(f"{which} failed:\n{run.stderr[-4000:]}")
            res = json.loads(out.read_text())
            results[which].append(res)
            print(f"round {rnd} {which}: {res['steps_per_s']:.3f} steps/s "
                  f"(median step {statistics.median(res['step_seconds']):.2f} s)", flush=True)
    steps = {w: [x for res in results[w] for x in res["step_seconds"]] for w in results}
    rate = {w: len(steps[w]) / sum(steps[w]) for w in steps}
    ratio = rate["r1"] / rate["trl"]
    import torch
    import transformers
    import trl

    report = {
        "benchmark": "r1 grpo vs trl GRPOTrainer, one optimizer step per generation, CPU, hf generation",
        "model": a.model_note, "task": "tiny-world arith (512 problems, chat template)", "reward": "accuracy",
        "G": a.G, "prompts_per_step": a.prompts, "completions_per_step": a.G * a.prompts,
        "max_new_tokens": a.max_new_tokens, "temperature": 1.0, "top_p": 1.0, "beta": 0.0, "loss": "token-mean",
        "learning_rate": a.lr, "r1_micro_batch_tokens": a.micro_batch_tokens, "timed_steps": a.steps, "warmup_steps": 1, "torch_threads": a.threads,
        "rounds": a.rounds, "r1_steps_per_s": rate["r1"], "trl_steps_per_s": rate["trl"],
        "ratio_r1_over_trl": ratio, "goal_ratio": 2.0, "goal_met": ratio >= 2.0,
        "ratio_of_median_steps": statistics.median(steps["trl"]) / statistics.median(steps["r1"]),
        "r1_steps_per_s_by_round": [r["steps_per_s"] for r in results["r1"]],
        "trl_steps_per_s_by_round": [r["steps_per_s"] for r in results["trl"]],
        "r1_frac_reward_zero_std_by_round": [r.get("frac_reward_zero_std_mean") for r in results["r1"]],
        "r1_step_seconds": steps["r1"], "trl_step_seconds": steps["trl"],
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__,
                     "python": platform.python_version()},
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average_before": load_before,
        "date": time.strftime("%Y-%m-%d"),
    }
    Path(a.output).parent.mkdir(parents=True, exist_ok=True)
    Path(a.output).write_text(json.dumps(report, indent=2) + "\n")
    print(f"r1 / trl = {ratio:.2f}x -> {a.output}")


if __name__ == "__main__":
    main()
