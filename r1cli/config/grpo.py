"""Config of `r1 grpo`: RL from verifiable rewards (GRPO, DAPO, Dr. GRPO, RLOO, GSPO).

Sections: ``model`` (shared), ``data`` (prompts), ``generation`` (rollouts: G = ``generation.n``),
``rewards`` (registry names, weights, parameters), ``grpo`` (the algorithm), ``train`` (optimizer,
steps, checkpoints, logging) and ``eval`` (optional held-out accuracy during training).

A *step* is one rollout step: ``grpo.prompts_per_step`` prompts × G completions, then
``grpo.iterations`` (μ) passes over that batch, each split into ``grpo.mini_batches`` optimizer
steps. Every key is used by the trainer or rejected here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from r1cli.config.core import Section, check_rewards
from r1cli.config.sections import GenerationSection, ModelSection

# Reflection vocabulary of the "aha" statistic (our choice, after the words the R1 paper's examples
# use; matched case-insensitively on word boundaries, phrases as written).
REFLECTION_WORDS = [
    "wait", "hmm", "aha", "let me check", "let me verify", "let me re-check", "recheck", "re-check",
    "double-check", "double check", "re-examine", "reexamine", "re-evaluate", "reconsider",
    "mistake", "verify",
]

_OPENAI_ONLY = ("base_url", "endpoint", "concurrency", "max_retries", "request_timeout_s")


class GRPODataSection(Section):
    """Prompts for the rollouts: a problems file (or hub id), its field names and the prompt format.

    ``prompt_template`` is filled with the record's columns (``{problem}``, ``{numbers}``, ...). With
    ``chat_template: true`` the result is one user message rendered by the tokenizer's chat template;
    with ``false`` it is the raw prompt text (the R1-Zero template ends in "Assistant:").
    """

    path: str | None = None
    split: str = "train"
    id_field: str = "id"
    problem_field: str = "problem"
    answer_field: str = "answer"
    prompt_template: str = "{problem}"
    chat_template: bool = True
    limit: int | None = Field(default=None, gt=0)
    shuffle: bool = True
    # curriculum: easy first. "difficulty": ascending column; "pass_rate": descending column.
    curriculum: Literal["none", "difficulty", "pass_rate"] = "none"
    curriculum_field: str | None = None


class GRPOGenerationSection(GenerationSection):
    """Rollout sampling. ``n`` is G (completions per prompt). TRL-like defaults (T 1.0, top-p 1.0)."""

    # the rollout engine must take new weights (not "openai"). "auto": vllm colocated on each training GPU
    # when training on CUDA and vLLM is installed, else hf (CPU, or a GPU without vLLM: with a warning)
    backend: Literal["auto", "hf", "vllm"] = "auto"
    n: int = Field(default=8, ge=2)
    temperature: float = Field(default=1.0, gt=0)
    top_p: float = Field(default=1.0, gt=0, le=1)
    max_new_tokens: int = Field(default=1024, gt=0)
    gpu_memory_utilization: float = Field(default=0.3, gt=0, le=1)  # colocated with training

    @model_validator(mode="after")
    def _no_openai_keys(self) -> GRPOGenerationSection:
        defaults = GenerationSection()
        for key in _OPENAI_ONLY + ("api_key_env",):
            if getattr(self, key) != getattr(defaults, key):
                raise ValueError(f"generation.{key} is an openai-backend option, which r1 grpo cannot use "
                                 "(the rollout engine must load new weights): remove it")
        return self


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class RewardsSection(Section):
    """Which rewards, their weights and their parameters (``r1cli.rewards`` registry).

    ``names``: ``acc,format`` or a list. ``weights``: one per name (``1,0.5``), a mapping
    (``acc:1,format:0.5``), or unset (all 1). ``params``: ``{name: {param: value}}``.
    ``correctness``: the component whose value > 0 means "correct" (accuracy metrics, the lengths of
    correct/wrong answers, dynamic sampling on accuracy); default: the first of
    accuracy/acc/countdown/code among ``names``, else the total reward > 0.
    """

    names: list[str] = Field(default_factory=lambda: ["accuracy"], min_length=1)
    weights: list[float] | dict[str, float] | None = None
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    correctness: str | None = None

    @field_validator("names", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("weights", mode="before")
    @classmethod
    def _weights(cls, value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return [float(value)]
        if not isinstance(value, str):
            return value
        parts = _split_list(value)
        if parts and all(":" in p for p in parts):
            return {k.strip(): float(v) for k, v in (p.split(":", 1) for p in parts)}
        return [float(p) for p in parts]

    @model_validator(mode="after")
    def _consistent(self) -> RewardsSection:
        if isinstance(self.weights, list) and len(self.weights) != len(self.names):
            raise ValueError(f"rewards.weights has {len(self.weights)} values for {len(self.names)} rewards "
                             f"({','.join(self.names)}): give one weight per reward")
        if isinstance(self.weights, dict):
            extra = sorted(set(self.weights) - set(self.names))
            if extra:
                raise ValueError(f"rewards.weights names '{extra[0]}', which is not in rewards.names "
                                 f"({','.join(self.names)})")
        extra = sorted(set(self.params) - set(self.names))
        if extra:
            raise ValueError(f"rewards.params has parameters for '{extra[0]}', which is not in rewards.names "
                             f"({','.join(self.names)})")
        if self.correctness is not None and self.correctness not in self.names:
            raise ValueError(f"rewards.correctness '{self.correctness}' is not in rewards.names "
                             f"({','.join(self.names)})")
        check_rewards("rewards.names", self.names, self.params)
        return self


class GRPOSection(Section):
    """The algorithm. Defaults: GRPO advantages, token-mean loss, β = 0, clip 0.2/0.2, μ = 1."""

    prompts_per_step: int = Field(default=16, gt=0)
    iterations: int = Field(default=1, gt=0)  # μ: passes over each rollout batch
    mini_batches: int = Field(default=1, gt=0)  # optimizer steps per pass
    micro_batch_size: int | None = Field(default=None, gt=0)  # sequences per forward/backward
    # or pack micro-batches by length up to this many (padded) tokens; the update is the same either way
    micro_batch_tokens: int | None = Field(default=None, gt=0)
    # one process, μ = 1, one mini-batch: run each group's prompt once and its G completions on its KV cache
    share_prompts: bool = True
    # with β = 0 in the loss and no entropy bonus, a sequence whose advantage is exactly 0 adds nothing
    # to the gradient: leave it out of the forward/backward (it still counts in the step's normalisers,
    # so the update is unchanged); the per-token stats then cover the sequences trained on
    skip_zero_advantage: bool = True
    # "ppo": per-token GAE advantages from a learned critic (the ppo section)
    estimator: Literal["grpo", "rloo", "reinforce++-baseline", "reinforce", "reinforce-batch", "reinforce-ema",
                       "ppo"] = "grpo"
    baseline_decay: float = Field(default=0.9, ge=0, lt=1)  # reinforce-ema: b <- d*b + (1-d)*mean(R)
    scale: Literal["group", "batch", "none"] = "group"
    adv_eps: float = Field(default=1e-6, ge=0)
    clip_low: float = Field(default=0.2, ge=0, lt=1)
    clip_high: float = Field(default=0.2, ge=0)
    dual_clip: float | None = Field(default=None, gt=1)
    ratio_level: Literal["token", "sequence"] = "token"
    loss_agg: Literal["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"] = "token-mean"
    norm_len: int | None = Field(default=None, gt=0)  # Dr. GRPO constant; default max_new_tokens
    beta: float = Field(default=0.0, ge=0)
    kl: Literal["k1", "k2", "k3"] = "k3"
    kl_placement: Literal["loss", "reward"] = "loss"
    ref_reset_steps: int | None = Field(default=None, gt=0)  # R1-Zero: reference := policy every N
    entropy_coef: float = 0.0
    # DAPO
    dynamic_sampling: bool = False
    dynamic_sampling_metric: Literal["reward", "accuracy"] = "reward"
    dynamic_sampling_max_rounds: int = Field(default=10, gt=0)
    dynamic_sampling_prompts_per_round: int | None = Field(default=None, gt=0)
    mask_truncated_completions: bool = False
    # train-inference mismatch correction; "auto": token-level truncation when backend is vllm
    importance_sampling: Literal["auto", "off", "token", "sequence"] = "auto"
    importance_sampling_mode: Literal["truncate", "mask"] = "truncate"
    importance_sampling_max: float = Field(default=2.0, gt=0)
    importance_sampling_min: float | None = Field(default=None, ge=0)
    reflection_words: list[str] = Field(default_factory=lambda: list(REFLECTION_WORDS))

    @model_validator(mode="after")
    def _checks(self) -> GRPOSection:
        if self.kl_placement == "reward" and self.beta == 0:
            raise ValueError("grpo.kl_placement 'reward' needs grpo.beta > 0")
        if self.ref_reset_steps is not None and self.beta == 0:
            raise ValueError("grpo.ref_reset_steps needs a reference model, i.e. grpo.beta > 0")
        if self.importance_sampling_min is not None and self.importance_sampling_min >= self.importance_sampling_max:
            raise ValueError("grpo.importance_sampling_min must be below grpo.importance_sampling_max")
        if self.estimator != "grpo" and self.scale != "group":
            raise ValueError(f"grpo.scale applies to the 'grpo' estimator only; leave it at 'group' for "
                             f"'{self.estimator}'")
        return self


class PPOSection(Section):
    """PPO's critic and GAE (used when ``grpo.estimator`` is ``ppo``). Defaults: GAE γ = λ = 1 (Open-Reasoner-
    Zero, TinyZero/verl), critic lr 1e-5 (verl's default, RECIPES.md B3), value clip 0.5 (verl's
    ``cliprange_value``), advantages whitened over the batch's tokens (ORZ ``advantage_normalize``)."""

    critic: str | None = None  # HF model directory or hub id; default: the policy's model.path
    gamma: float = Field(default=1.0, ge=0, le=1)
    lam: float = Field(default=1.0, ge=0, le=1)
    critic_learning_rate: float = Field(default=1e-5, gt=0)
    critic_warmup_steps: int = Field(default=0, ge=0)  # rollout steps at the start that train only the critic
    critic_lr_warmup_steps: int = Field(default=0, ge=0)  # linear warm-up of the critic's learning rate
    critic_iterations: int = Field(default=1, gt=0)  # passes of the critic over each rollout batch
    critic_mini_batches: int = Field(default=1, gt=0)  # critic optimizer steps per pass
    value_clip: float | None = Field(default=0.5, gt=0)  # None: unclipped value loss
    whiten_advantages: bool = True


class GRPOTrainSection(Section):
    """Optimizer, schedule, precision, length of the run, checkpoints and logging (names as in `r1 sft`)."""

    max_steps: int = Field(default=100, gt=0)  # rollout steps
    learning_rate: float = Field(default=1e-6, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    adam_beta1: float = Field(default=0.9, ge=0, lt=1)
    adam_beta2: float = Field(default=0.999, ge=0, lt=1)
    adam_epsilon: float = Field(default=1e-8, gt=0)
    lr_scheduler: Literal["constant", "linear", "cosine"] = "constant"
    warmup_ratio: float = Field(default=0.0, ge=0, le=1)
    warmup_steps: int | None = Field(default=None, ge=0)  # optimizer steps; overrides warmup_ratio
    min_lr_ratio: float = Field(default=0.0, ge=0, le=1)
    max_grad_norm: float | None = Field(default=1.0, ge=0)
    seed: int = 0
    # auto: bf16 autocast on CUDA, fp32 on CPU
    bf16: bool | None = None
    gradient_checkpointing: bool = False
    device: str = "auto"
    cpu_threads: int | None = Field(default=None, gt=0)
    # None or "zero2" (shipped config) or a DeepSpeed JSON path; ZeRO-3 is refused (rollouts need full weights)
    deepspeed: str | None = None
    save_steps: int | None = Field(default=None, gt=0)  # checkpoint every N steps and at the end; None: none
    save_total_limit: int | None = Field(default=2, gt=0)
    logging_steps: int = Field(default=1, gt=0)
    report_to: list[Literal["tensorboard", "wandb"]] = Field(default_factory=list)
    plots: bool = True


class GRPOEvalSection(Section):
    """Held-out accuracy during training (the learning curve): off unless ``path`` is set."""

    path: str | None = None
    split: str = "test"
    every_steps: int = Field(default=10, gt=0)  # also before the first and after the last step
    limit: int | None = Field(default=None, gt=0)
    n: int = Field(default=1, gt=0)
    temperature: float = Field(default=0.0, ge=0)
    max_new_tokens: int | None = Field(default=None, gt=0)  # default: generation.max_new_tokens


class GRPOConfig(Section):
    """Everything `r1 grpo` needs; written to ``<output_dir>/config.yaml``."""

    output_dir: str = "runs/grpo"
    model: ModelSection = Field(default_factory=ModelSection)
    data: GRPODataSection = Field(default_factory=GRPODataSection)
    generation: GRPOGenerationSection = Field(default_factory=GRPOGenerationSection)
    rewards: RewardsSection = Field(default_factory=RewardsSection)
    grpo: GRPOSection = Field(default_factory=GRPOSection)
    ppo: PPOSection = Field(default_factory=PPOSection)
    train: GRPOTrainSection = Field(default_factory=GRPOTrainSection)
    eval: GRPOEvalSection = Field(default_factory=GRPOEvalSection)
    # None: fresh start; "latest": newest checkpoint in output_dir (fresh if none); or a path
    resume: str | None = None

    @model_validator(mode="after")
    def _cross(self) -> GRPOConfig:
        g = self.grpo
        rollout = g.prompts_per_step * self.generation.n
        if rollout % g.mini_batches:
            raise ValueError(f"grpo.mini_batches ({g.mini_batches}) must divide the rollout batch "
                             f"prompts_per_step × n = {rollout}")
        if g.estimator == "ppo":
            if rollout % self.ppo.critic_mini_batches:
                raise ValueError(f"ppo.critic_mini_batches ({self.ppo.critic_mini_batches}) must divide the rollout "
                                 f"batch prompts_per_step × n = {rollout}")
            if self.train.deepspeed and g.micro_batch_tokens:
                raise ValueError("grpo.estimator 'ppo' under DeepSpeed needs a fixed number of micro-batches: set "
                                 "grpo.micro_batch_size instead of grpo.micro_batch_tokens")
        return self
