"""Config of `r1 sft`: model (shared section), SFT data, and the training loop.

Every key is used by :func:`r1cli.train.sft.run_sft`; none is accepted and ignored.
Batch sizes are per process: global batch = ``per_device_batch_size * gradient_accumulation_steps *
world_size`` (examples, or packed rows when ``data.packing`` is on).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from r1cli.config.core import Section
from r1cli.config.sections import ModelSection


class SFTDataSection(Section):
    """SFT records (chat ``messages`` or ``prompt``/``completion``), tokenization and packing."""

    path: str | None = None
    split: str = "train"
    messages_field: str = "messages"
    prompt_field: str = "prompt"
    completion_field: str = "completion"
    # prepended as a system turn when the record has none (LIMO trains with one)
    system_prompt: str | None = None
    limit: int | None = Field(default=None, gt=0)
    max_length: int = Field(default=4096, gt=1)
    # examples longer than max_length tokens: cut to max_length, or leave them out
    truncation: Literal["truncate", "drop"] = "truncate"
    packing: bool = False
    shuffle: bool = True


class SFTTrainSection(Section):
    """Optimisation, schedule, precision, checkpoints and logging."""

    learning_rate: float = Field(default=1e-5, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    adam_beta1: float = Field(default=0.9, ge=0, lt=1)
    adam_beta2: float = Field(default=0.999, ge=0, lt=1)
    adam_epsilon: float = Field(default=1e-8, gt=0)
    lr_scheduler: Literal["cosine", "linear", "constant"] = "cosine"
    min_lr_ratio: float = Field(default=0.0, ge=0, le=1)
    warmup_ratio: float = Field(default=0.0, ge=0, le=1)
    max_grad_norm: float | None = Field(default=1.0, ge=0)
    num_epochs: float = Field(default=1.0, gt=0)
    # when set, overrides num_epochs (the data is cycled as needed)
    max_steps: int | None = Field(default=None, gt=0)
    per_device_batch_size: int = Field(default=1, gt=0)
    gradient_accumulation_steps: int = Field(default=1, gt=0)
    seed: int = 42
    # auto: bf16 autocast on CUDA, fp32 on CPU
    bf16: bool | None = None
    gradient_checkpointing: bool = False
    device: str = "auto"
    cpu_threads: int | None = Field(default=None, gt=0)
    # None, "zero2", "zero3" (shipped configs) or a path to a DeepSpeed JSON config
    deepspeed: str | None = None
    save_steps: int | None = Field(default=None, gt=0)
    save_total_limit: int | None = Field(default=2, gt=0)
    logging_steps: int = Field(default=1, gt=0)
    report_to: list[Literal["tensorboard", "wandb"]] = Field(default_factory=list)
    # the final model goes to <output_dir>/final
    save_final: bool = True


class SFTConfig(Section):
    """`r1 sft`: everything a run needs; written to <output_dir>/config.yaml."""

    output_dir: str = "runs/sft"
    model: ModelSection = Field(default_factory=ModelSection)
    data: SFTDataSection = Field(default_factory=SFTDataSection)
    train: SFTTrainSection = Field(default_factory=SFTTrainSection)
    # None: fresh start; "latest": newest checkpoint in output_dir (fresh if none); or a path
    resume: str | None = None

    @model_validator(mode="after")
    def _check(self) -> SFTConfig:
        m = self.model
        if m.max_position_embeddings is not None and self.data.max_length > m.max_position_embeddings:
            from r1cli.errors import R1Error

            raise R1Error(f"data.max_length ({self.data.max_length}) exceeds model.max_position_embeddings "
                          f"({m.max_position_embeddings}); lower one or raise the other")
        return self
