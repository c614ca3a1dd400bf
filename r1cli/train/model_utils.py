"""Load a causal LM and its tokenizer for training, with context overrides applied first.

``rope_theta`` and ``max_position_embeddings`` are written into the model config *before* the
weights load (open-r1 raises θ to 300k for a 32k context): the rotary tables are built from the
config at construction, so changing them afterwards would not take effect. transformers ≥ 5 keeps
θ in ``config.rope_parameters["rope_theta"]``; older versions in ``config.rope_theta``; both are set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from r1cli.errors import R1Error

_DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


def apply_context_overrides(config: Any, *, rope_theta: float | None = None,
                            max_position_embeddings: int | None = None) -> Any:
    """Set RoPE θ and the context length on an HF config in place; return it."""
    if rope_theta is not None:
        params = getattr(config, "rope_parameters", None)
        if isinstance(params, dict):
            params["rope_theta"] = float(rope_theta)
        if hasattr(config, "rope_theta") or not isinstance(params, dict):
            config.rope_theta = float(rope_theta)
    if max_position_embeddings is not None:
        config.max_position_embeddings = int(max_position_embeddings)
    return config


def resolve_dtype(dtype: str, device: str) -> str:
    """``auto`` -> float32 (master weights; bf16 compute comes from autocast); others pass."""
    if dtype == "auto":
        return "float32"
    if dtype not in _DTYPES:
        raise R1Error(f"model.dtype '{dtype}' is not supported; one of: auto, float32, bfloat16, float16")
    if dtype == "float16" and not device.startswith("cuda"):
        raise R1Error("model.dtype float16 needs a GPU; use bfloat16 or float32 on CPU")
    return dtype


def default_attn_implementation(device: str) -> str:
    """flash_attention_2 on CUDA when the flash_attn package is installed, else sdpa."""
    if device.startswith("cuda"):
        import importlib.util

        if importlib.util.find_spec("flash_attn") is not None:
            return "flash_attention_2"
    return "sdpa"


def load_for_training(model_cfg: Any, *, device: str, gradient_checkpointing: bool = False) -> tuple[Any, Any, str]:
    """``(model, tokenizer, attn_implementation)`` for a ``ModelSection``; the model is on ``device``
    in train mode with ``use_cache=False``."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    if not model_cfg.path:
        raise R1Error("model.path is required: a local HF model directory (e.g. from `r1 init-model tiny`) "
                      "or a hub id; set it with --model PATH")
    path = model_cfg.path
    if (path.startswith((".", "/", "~")) or Path(path).exists()) and not Path(path).expanduser().is_dir():
        raise R1Error(f"model.path {path}: directory not found")
    config = AutoConfig.from_pretrained(path)
    apply_context_overrides(config, rope_theta=model_cfg.rope_theta,
                            max_position_embeddings=model_cfg.max_position_embeddings)
    attn = model_cfg.attn_implementation or default_attn_implementation(device)
    dtype = resolve_dtype(model_cfg.dtype, device)
    model = AutoModelForCausalLM.from_pretrained(path, config=config, dtype=getattr(torch, dtype),
                                                 attn_implementation=attn)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if gradient_checkpointing:  # non-reentrant, as open-r1
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.2x
            model.activation_checkpointing_enable({"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.config.use_cache = False
    model.to(device)
    model.train()
    return model, tokenizer, attn
