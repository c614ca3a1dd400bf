"""Config sections shared by several commands. Field names carry their units."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from r1cli.config.core import Section

R1_MATH_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


class ModelSection(Section):
    """A Hugging Face model directory or hub id, and overrides applied before the weights load."""

    path: str | None = None
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2", "flex_attention"] | None = None
    rope_theta: float | None = Field(default=None, gt=0)
    max_position_embeddings: int | None = Field(default=None, gt=0)


class DataSection(Section):
    """Where problems (or SFT records) come from and how their fields are named."""

    path: str | None = None
    split: str = "train"
    id_field: str = "id"
    problem_field: str = "problem"
    answer_field: str = "answer"
    messages_field: str = "messages"
    prompt_field: str = "prompt"
    completion_field: str = "completion"
    prompt_template: str = "{problem}"
    limit: int | None = Field(default=None, gt=0)


class GenerationSection(Section):
    """Which engine generates and how it samples (R1 protocol defaults: T 0.6, top-p 0.95)."""

    backend: Literal["hf", "vllm", "openai"] = "hf"
    n: int = Field(default=1, gt=0)
    temperature: float = Field(default=0.6, ge=0)
    top_p: float = Field(default=0.95, gt=0, le=1)
    top_k: int = Field(default=0, ge=0)
    max_new_tokens: int = Field(default=32768, gt=0)
    stop: list[str] = Field(default_factory=list)
    seed: int | None = 0
    system_prompt: str | None = None
    prefill_think: bool = False
    # hf backend: batches are sized so that batch * (prompt + new tokens) stays under this budget
    token_budget: int = Field(default=262144, gt=0)
    # openai backend
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    endpoint: Literal["chat", "completions"] = "chat"
    concurrency: int = Field(default=8, gt=0)
    max_retries: int = Field(default=5, ge=0)
    request_timeout_s: float = Field(default=600.0, gt=0)
    # vllm backend
    tensor_parallel_size: int = Field(default=1, gt=0)
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    max_model_len: int | None = Field(default=None, gt=0)
