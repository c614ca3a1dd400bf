"""`r1 grpo`: RL from verifiable rewards (GRPO, DAPO, Dr. GRPO, RLOO, GSPO) on the policy in --model."""

from __future__ import annotations

from typing import Annotated

import typer

from r1cli.commands.common import (
    ConfigOpt,
    OutputDirOpt,
    OverwriteOpt,
    PresetOpt,
    PrintConfigOpt,
    SetOpt,
    build_config,
    claim_output,
)


def grpo(
    model: Annotated[str | None, typer.Option("--model", "-m", help="Policy to train (HF model directory).")] = None,
    data: Annotated[str | None, typer.Option("--data", help="Problems file (JSONL/Parquet/CSV) or hub id.")] = None,
    reward: Annotated[str | None, typer.Option(
        "--reward", help="Rewards to combine, e.g. acc,format (or acc:1,format:0.5).")] = None,
    reward_weights: Annotated[str | None, typer.Option(
        "--reward-weights", help="One weight per reward, e.g. 1,0.5.")] = None,
    num_generations: Annotated[int | None, typer.Option(
        "--num-generations", "-G", min=2, help="Completions per prompt (the group size G).")] = None,
    prompts_per_step: Annotated[int | None, typer.Option(
        "--prompts-per-step", min=1, help="Prompts per rollout step (all ranks together).")] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", min=1, help="Rollout steps to run.")] = None,
    learning_rate: Annotated[float | None, typer.Option("--lr", help="Peak learning rate.")] = None,
    beta: Annotated[float | None, typer.Option("--beta", min=0.0, help="KL coefficient (0: no reference model).")
                    ] = None,
    loss_agg: Annotated[str | None, typer.Option(
        "--loss-agg", help="token-mean (DAPO) | seq-mean-token-mean (GRPO) | seq-mean-token-sum-norm (Dr. GRPO).")
    ] = None,
    estimator: Annotated[str | None, typer.Option(
        "--estimator", help="Advantages: grpo | rloo | reinforce++-baseline | reinforce | reinforce-batch | "
                            "reinforce-ema | ppo (a learned critic and GAE; see the ppo section).")] = None,
    critic: Annotated[str | None, typer.Option(
        "--critic", help="With --estimator ppo: the critic's model (default: the policy's starting weights).")
    ] = None,
    max_new_tokens: Annotated[int | None, typer.Option(
        "--max-new-tokens", min=1, help="Completion length cap of the rollouts.")] = None,
    temperature: Annotated[float | None, typer.Option("--temperature", help="Rollout temperature.")] = None,
    backend: Annotated[str | None, typer.Option(
        "--backend", help="Rollout engine: auto (vllm colocated on each training GPU when installed, else hf), "
                          "hf or vllm.")] = None,
    eval_data: Annotated[str | None, typer.Option(
        "--eval-data", help="Held-out problems scored during training (the accuracy curve).")] = None,
    resume: Annotated[str | None, typer.Option(
        "--resume", help="Resume from 'latest' in the output dir or from a checkpoint path.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of prompts order, sampling and init.")] = None,
    save_steps: Annotated[int | None, typer.Option("--save-steps", min=1, help="Checkpoint every N steps.")] = None,
    preset: PresetOpt = None,
    config: ConfigOpt = None,
    sets: SetOpt = None,
    print_config: PrintConfigOpt = False,
    output_dir: OutputDirOpt = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Train a policy with RL on verifiable rewards (GRPO and its variants, REINFORCE, PPO with a critic); writes the model, checkpoints,
    metrics.jsonl and reward/accuracy/length/reflection curves to the output directory."""
    from r1cli.config.grpo import GRPOConfig

    flags = {
        "model.path": model, "data.path": data, "rewards.names": reward, "rewards.weights": reward_weights,
        "generation.n": num_generations, "grpo.prompts_per_step": prompts_per_step,
        "train.max_steps": max_steps, "train.learning_rate": learning_rate, "grpo.beta": beta,
        "grpo.loss_agg": loss_agg, "grpo.estimator": estimator, "ppo.critic": critic,
        "generation.max_new_tokens": max_new_tokens,
        "generation.temperature": temperature, "generation.backend": backend, "eval.path": eval_data,
        "resume": resume, "train.seed": seed, "train.save_steps": save_steps,
        "output_dir": output_dir,
    }
    cfg = build_config(GRPOConfig, "grpo", preset=preset, config=config, sets=sets, flags=flags,
                       print_config=print_config)
    from r1cli.console import err
    from r1cli.train.distributed import env_world
    from r1cli.train.grpo import resolve_rollout_backend, run_grpo

    main = env_world()[0] == 0
    # config.yaml records the engine that really runs
    cfg = resolve_rollout_backend(cfg, warn=(lambda msg: err.print(f"[yellow]{msg}[/yellow]")) if main else None)
    with claim_output(cfg, "grpo", overwrite=overwrite):
        run_grpo(cfg)
