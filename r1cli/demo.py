"""The embedded default: the whole recipe on the tiny world (`r1 demo`).

make data -> tiny model -> eval -> SFT on teacher traces -> eval -> GRPO -> eval -> report.md with a
before/after table and PNG curves. Every stage calls the same engine as its command, with the `tiny`
presets, so the demo is also a smoke test of the real code paths.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from r1cli.console import emit_json, err

EVAL_N = 4
# the demo stops `r1 grpo --preset tiny` early to stay well inside 10 minutes on 2 cores
DEMO_GRPO_STEPS = 400


def _stage(i: int, name: str, what: str) -> None:
    err.rule(f"[bold]{i}. {name}[/bold] — {what}", align="left")


def _eval(task: str, model: Path, out_dir: Path, *, limit: int, max_new_tokens: int) -> dict:
    from r1cli.eval.runner import evaluate

    res = evaluate(task, model, output_dir=out_dir, n=EVAL_N, limit=limit, max_new_tokens=max_new_tokens,
                   temperature=0.6, top_p=0.95)
    m = res["metrics"]
    err.print(f"   pass@1 {m['pass@1']:.3f} ± {m['pass@1_stderr'] or 0:.3f}, maj@{EVAL_N} "
              f"{m['maj@k'].get(str(EVAL_N), float('nan')):.3f}, pass@{EVAL_N} {m['pass@k'].get(str(EVAL_N), 0):.3f}")
    return res


def _config(schema: Any, command: str, flags: dict[str, Any], sets: list[str]) -> Any:
    from r1cli.config.core import resolve_config, write_config

    cfg = resolve_config(schema, command=command, preset="tiny", sets=sets, flags=flags)
    write_config(cfg, cfg.output_dir)
    return cfg


def _plot_stages(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    names = [r["stage"] for r in rows]
    ax.bar(names, [r["pass@1"] for r in rows], color=["#999", "#4a7", "#37c"][: len(rows)])
    for i, r in enumerate(rows):
        ax.text(i, r["pass@1"] + 0.01, f"{r['pass@1']:.2f}", ha="center")
    ax.set_ylim(0, 1)
    ax.set_ylabel(f"held-out pass@1 (n={EVAL_N})")
    ax.set_title("tiny world: accuracy by stage")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _report(out_dir: Path, task: str, rows: list[dict], sft: dict, grpo: dict, seconds: float) -> Path:
    from r1cli.data.io import atomic_write_text

    _plot_stages(rows, out_dir / "accuracy.png")
    lines = [
        "# r1 demo: the R1 recipe on the tiny world",
        "",
        f"Task `{task}`; held-out problems scored with `r1 eval {task}` (n = {EVAL_N} samples per problem, "
        "temperature 0.6, top-p 0.95). Total time: {:.0f} s.".format(seconds),
        "",
        f"| stage | model | pass@1 | ± stderr | maj@{EVAL_N} | pass@{EVAL_N} | mean tokens |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['stage']} | `{r['model']}` | {r['pass@1']:.3f} | {r['stderr']:.3f} | "
                     f"{r['maj']:.3f} | {r['pass@k']:.3f} | {r['mean_tokens']} |")
    lines += [
        "",
        "![accuracy by stage](accuracy.png)",
        "",
        f"SFT: {sft.get('steps')} steps, final loss {sft.get('final_loss', float('nan')):.4f}, "
        f"{sft.get('tokens_per_s', 0):,.0f} tokens/s — curve: `sft/loss.png`.",
        "",
        f"GRPO: {grpo.get('steps', '?')} steps — curves of reward, accuracy, length and "
        "reflection rate: `grpo/` (PNG files beside `metrics.jsonl`).",
        "",
    ]
    for png in sorted((out_dir / "sft").glob("*.png")) + sorted((out_dir / "grpo").glob("*.png")):
        lines.append(f"![{png.stem}]({png.relative_to(out_dir)})")
    path = out_dir / "report.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def _row(stage: str, model: Path, res: dict) -> dict:
    m = res["metrics"]
    return {"stage": stage, "model": str(model), "pass@1": m["pass@1"], "stderr": m["pass@1_stderr"] or 0.0,
            "maj": m["maj@k"].get(str(EVAL_N), 0.0), "pass@k": m["pass@k"].get(str(EVAL_N), 0.0),
            "mean_tokens": round(m["mean_tokens"], 1) if m.get("mean_tokens") is not None else "n/a"}


def run_demo(output_dir: Path, *, task: str = "arith", quick: bool = False, seed: int = 0) -> dict:
    """Run every stage; ``quick`` shrinks each one to seconds (a smoke test, not a result)."""
    from r1cli.config.grpo import GRPOConfig
    from r1cli.config.sft import SFTConfig
    from r1cli.models.tiny import init_tiny
    from r1cli.tasks import write_task_data
    from r1cli.train.grpo import run_grpo
    from r1cli.train.sft import run_sft

    t0 = time.time()
    out_dir = Path(output_dir)
    limit = 20 if quick else 200
    max_new = 64
    err.rule(f"[bold]r1 demo[/bold]: the R1 recipe on the tiny world ({task}){' — quick' if quick else ''}")

    _stage(1, "data", f"{task} problems and teacher traces")
    data = write_task_data(task, 200 if quick else 4000, seed, out_dir / "data", held_out=0)
    err.print(f"   {data['problems']}, {data['sft']}")

    _stage(2, "model", "a ~0.8M-parameter Qwen2 and a digit-splitting tokenizer, built locally")
    init_dir = init_tiny(out_dir / "model-init", seed=seed)
    err.print(f"   {init_dir}")

    _stage(3, "eval", "the untrained model")
    before = _eval(task, init_dir, out_dir / "eval-init", limit=limit, max_new_tokens=max_new)

    _stage(4, "sft", "supervised fine-tuning on the teacher's traces (r1 sft --preset tiny)")
    sft_sets = ["train.max_steps=20", "train.save_steps=10"] if quick else []
    sft_cfg = _config(SFTConfig, "sft", {"model.path": str(init_dir), "data.path": str(data["sft"]),
                                         "output_dir": str(out_dir / "sft"), "train.seed": seed}, sft_sets)
    sft = run_sft(sft_cfg)
    sft_dir = Path(sft["final_dir"])

    _stage(5, "eval", "after SFT")
    after_sft = _eval(task, sft_dir, out_dir / "eval-sft", limit=limit, max_new_tokens=max_new)

    _stage(6, "grpo", f"RL from the verifiable reward (r1 grpo --preset tiny, {DEMO_GRPO_STEPS} steps)")
    grpo_sets = ["train.max_steps=2", "grpo.prompts_per_step=4"] if quick else [f"train.max_steps={DEMO_GRPO_STEPS}"]
    grpo_cfg = _config(GRPOConfig, "grpo", {"model.path": str(sft_dir), "data.path": str(data["problems"]),
                                            "output_dir": str(out_dir / "grpo")}, grpo_sets)
    grpo = {**(run_grpo(grpo_cfg) or {}), "steps": grpo_cfg.train.max_steps}
    grpo_dir = out_dir / "grpo" / "final"

    _stage(7, "eval", "after GRPO")
    after_grpo = _eval(task, grpo_dir, out_dir / "eval-grpo", limit=limit, max_new_tokens=max_new)

    seconds = time.time() - t0
    rows = [_row("init", init_dir, before), _row("sft", sft_dir, after_sft), _row("grpo", grpo_dir, after_grpo)]
    report = _report(out_dir, task, rows, sft, grpo, seconds)
    summary = {"task": task, "seconds": round(seconds, 1), "report": str(report),
               "pass@1": {r["stage"]: round(r["pass@1"], 4) for r in rows}}
    from r1cli.data.io import atomic_write_json

    atomic_write_json(out_dir / "summary.json", summary)
    err.rule("[bold]summary[/bold]", align="left")
    for r in rows:
        err.print(f"   {r['stage']:5s} pass@1 {r['pass@1']:.3f}  ({r['model']})")
    err.print(f"   report: {report}  ({seconds:.0f} s)")
    emit_json(summary)
    return summary
