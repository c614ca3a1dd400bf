"""PPO (a learned critic, GAE) beside r1's GRPO at equal rollouts: steps/s of the same trainer loop.

    python bench/ppo_vs_grpo.py --model runs/sft-tiny/final [--steps 20] [--prompts 16] [--n 16] [--threads 1]

Both run ``r1 grpo``'s one trainer (``r1cli.train.grpo.GRPOTrainer``) on the same model, prompts,
sampling seed and rollout size (``--prompts`` × ``--n`` completions per step, hf backend, T 1.0, 64 new
tokens), one process on CPU. GRPO: group-normalised advantages. PPO: ``grpo.estimator=ppo`` (critic
initialised from the policy, GAE γ = λ = 1, whitened advantages, one critic step per rollout step). Reported
per run: steps/s, the mean seconds of rollout (generation + rewards), policy update and the rest (PPO: the
critic's values and update), and the ratio PPO/GRPO. With no ``--model`` a fresh random tiny model is used
(its completions are noise, but the work per step is the same). Writes bench/results/ppo.json.
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
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def run(name: str, model: str, data: str, out: Path, args: argparse.Namespace, extra: list[str]) -> dict:
    from r1cli.config.core import resolve_config
    from r1cli.config.grpo import GRPOConfig
    from r1cli.train.grpo import GRPOTrainer

    cfg = resolve_config(GRPOConfig, command="grpo", sets=[
        f"model.path={model}", f"data.path={data}", f"output_dir={out / name}", f"generation.n={args.n}",
        "generation.max_new_tokens=64", "generation.temperature=1.0", "generation.top_p=1.0",
        "generation.backend=hf", "generation.seed=0", f"grpo.prompts_per_step={args.prompts}",
        "grpo.micro_batch_tokens=2048", f"train.max_steps={args.steps}", "train.learning_rate=1e-4",
        "train.device=cpu", "train.plots=false", f"train.cpu_threads={args.threads}", *extra])
    trainer = GRPOTrainer(cfg)
    t0 = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - t0
    trainer.ctx.close()
    rows = [json.loads(line) for line in (out / name / "metrics.jsonl").read_text().splitlines()
            if '"step_s"' in line]
    mean = lambda key: sum(r[key] for r in rows) / len(rows)  # noqa: E731
    return {"steps": args.steps, "wall_s": round(wall, 2), "steps_per_s": round(args.steps / wall, 4),
            "rollout_s": round(mean("rollout_s"), 3), "update_s": round(mean("update_s"), 3),
            "completions_per_step": args.prompts * args.n, "final_reward_mean": rows[-1]["reward_mean"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="policy (default: a fresh random tiny model)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model-label", default=None, help="how the results name --model (no machine paths)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "ppo.json"))
    args = ap.parse_args()

    import torch

    from r1cli.models.tiny import init_tiny
    from r1cli.tasks import write_task_data

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = args.model or str(init_tiny(root / "model"))
        data = str(write_task_data("arith", 2000, 0, root / "data")["problems"])
        grpo = run("grpo", model, data, root, args, [])
        ppo = run("ppo", model, data, root, args, ["grpo.estimator=ppo"])
    result = {
        "what": "r1 grpo's trainer: GRPO vs PPO (critic + GAE) at equal rollouts, one CPU process",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "threads": args.threads,
                    "torch": torch.__version__},
        "model": args.model_label or ("given with --model" if args.model else "random tiny (r1 init-model tiny)"),
        "grpo": grpo, "ppo": ppo,
        "ppo_steps_per_s_over_grpo": round(ppo["steps_per_s"] / grpo["steps_per_s"], 3),
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
