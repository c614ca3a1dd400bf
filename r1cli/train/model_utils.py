"""Load a causal LM and its tokenizer for training.

The loading itself (local directory or hub id, offline check, RoPE θ / context overrides written
into the config before the weights load, one-line errors) is :func:`r1cli.models.loading.
load_model_and_tokenizer`; this module adds the training choices: fp32 master weights by default,
flash-attention when installed on CUDA, gradient checkpointing, train mode without the KV cache.
"""

from __future__ import annotations

from typing import Any

from r1cli.errors import R1Error


def resolve_dtype(dtype: str, device: str) -> str:
    """``auto`` -> float32 (master weights; bf16 compute comes from autocast); other names pass (the
    loader checks them)."""
    if dtype == "auto":
        return "float32"
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
    from r1cli.models.loading import load_model_and_tokenizer

    if not model_cfg.path:
        raise R1Error("model.path is required: a local HF model directory (e.g. from `r1 init-model tiny`) "
                      "or a hub id; set it with --model PATH")
    attn = model_cfg.attn_implementation or default_attn_implementation(device)
    model, tokenizer = load_model_and_tokenizer(
        model_cfg.path, dtype=resolve_dtype(model_cfg.dtype, device), device=device, rope_theta=model_cfg.rope_theta,
        max_position_embeddings=model_cfg.max_position_embeddings, attn_implementation=attn)
    if gradient_checkpointing:  # non-reentrant, as open-r1
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.2x
            model.activation_checkpointing_enable({"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.config.use_cache = False
    model.train()
    return model, tokenizer, attn
