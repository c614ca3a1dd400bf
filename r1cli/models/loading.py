"""Load a causal LM and its tokenizer, with context-length and RoPE overrides applied first.

Overrides (``rope_theta``, ``max_position_embeddings``) are written into the config *before* the
weights load, so the model is built with them (open-r1 raises ``rope_theta`` to stretch Qwen's
context for long traces). A path that does not exist and cannot be a hub id, or a hub id while the
hub is offline, is a one-line :class:`~r1cli.errors.R1Error`, not a 50-second network timeout.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from r1cli.errors import R1Error, one_of

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
DTYPES = ("auto", "float32", "fp32", "bfloat16", "bf16", "float16", "fp16")


def _offline() -> bool:
    return any(
        os.environ.get(v, "").strip().lower() in {"1", "true", "yes", "on"}
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def resolve_source(path_or_id: str | os.PathLike) -> str:
    """``path_or_id`` as transformers should get it; R1Error when it can be neither.

    An existing directory is returned as is. Otherwise it must look like a hub id (``org/name`` or
    ``name``) and the hub must be online.
    """
    text = str(path_or_id)
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise R1Error(f"model directory '{text}' has no config.json; point at a saved HF model directory")
        return str(path)
    if path.exists():
        raise R1Error(f"model path '{text}' is a file; point at a saved HF model directory")
    if not _HUB_ID.match(text) or text.startswith((".", "~")):
        raise R1Error(
            f"no model directory '{text}'; give an existing directory (e.g. one made by "
            "`r1 init-model tiny --output DIR`) or a hub id like Qwen/Qwen2.5-Math-1.5B"
        )
    if _offline():
        raise R1Error(
            f"model '{text}' is not a local directory and the hub is offline (HF_HUB_OFFLINE=1); "
            "give a local model directory, or unset HF_HUB_OFFLINE to download it"
        )
    return text


def resolve_dtype(dtype: Any, device: str) -> Any:
    """``"auto"`` -> bf16 on CUDA, fp32 elsewhere; a name from :data:`DTYPES`; or a torch dtype."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    names = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
             "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}  # fmt: skip
    if dtype == "auto":
        return torch.bfloat16 if str(device).startswith("cuda") else torch.float32
    if dtype not in names:
        raise R1Error(f"unknown dtype '{dtype}': {one_of(DTYPES)}")
    return names[dtype]


def resolve_device(device: str) -> str:
    """``"auto"`` -> ``"cuda"`` when a GPU is visible, else ``"cpu"``; anything else as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def apply_overrides(
    config: Any, *, rope_theta: float | None = None, max_position_embeddings: int | None = None
) -> Any:
    """Set RoPE base and context length on a transformers config (in place; returned)."""
    if max_position_embeddings is not None:
        if max_position_embeddings < 1:
            raise R1Error(
                f"max_position_embeddings must be a positive integer, got {max_position_embeddings}"
            )
        config.max_position_embeddings = int(max_position_embeddings)
    if rope_theta is not None:
        if rope_theta <= 0:
            raise R1Error(f"rope_theta must be positive, got {rope_theta}")
        params = getattr(config, "rope_parameters", None)
        if isinstance(params, dict):  # transformers >= 5
            config.rope_parameters = {**params, "rope_theta": float(rope_theta)}
        else:  # transformers 4.x keeps it as an attribute
            config.rope_theta = float(rope_theta)
    return config


def load_model_and_tokenizer(
    path_or_id: str | os.PathLike,
    *,
    dtype: Any = "auto",
    device: str = "auto",
    rope_theta: float | None = None,
    max_position_embeddings: int | None = None,
    attn_implementation: str | None = None,
    trust_remote_code: bool = False,
) -> tuple[Any, Any]:
    """``(AutoModelForCausalLM, AutoTokenizer)`` from a model directory or hub id.

    Config overrides are applied before the weights load; the model is moved to ``device``.
    When the tokenizer's ``model_max_length`` is smaller than the new context, it is raised to match.
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    source = resolve_source(path_or_id)
    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    try:
        config = AutoConfig.from_pretrained(source, **kwargs)
        apply_overrides(config, rope_theta=rope_theta, max_position_embeddings=max_position_embeddings)
        if attn_implementation is not None:
            kwargs["attn_implementation"] = attn_implementation
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(source, config=config, dtype=torch_dtype, **kwargs)
    except (OSError, ValueError, ImportError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise R1Error(f"cannot load model '{path_or_id}': {first}") from err
    if (
        max_position_embeddings is not None
        and getattr(tokenizer, "model_max_length", 0) < max_position_embeddings
    ):
        tokenizer.model_max_length = int(max_position_embeddings)
    return model.to(device), tokenizer
