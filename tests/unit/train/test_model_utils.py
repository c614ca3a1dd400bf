"""Model loading for training: RoPE/context overrides land before the weights, dtype and attention choice."""

from __future__ import annotations

import pytest

from r1cli.config.sections import ModelSection
from r1cli.errors import R1Error
from r1cli.models.loading import apply_overrides
from r1cli.train.model_utils import load_for_training, resolve_dtype


def test_overrides_on_config():
    from transformers import Qwen2Config

    cfg = apply_overrides(Qwen2Config(), rope_theta=300000, max_position_embeddings=32768)
    assert cfg.rope_parameters["rope_theta"] == 300000.0 and cfg.max_position_embeddings == 32768


def test_rope_theta_reaches_the_rotary_tables(sft_assets):
    import torch

    model, tok, attn = load_for_training(
        ModelSection(path=sft_assets["model"], rope_theta=300000, max_position_embeddings=512,
                     attn_implementation="eager"), device="cpu", gradient_checkpointing=True)
    head_dim = model.config.hidden_size // model.config.num_attention_heads  # 32 / 2 = 16
    # inv_freq[1] = theta^(-2/head_dim) = 300000^(-1/8) ~ 0.2071 (it would be 10000^(-1/8) ~ 0.3162)
    assert model.model.rotary_emb.inv_freq[1].item() == pytest.approx(300000 ** (-2 / head_dim), rel=1e-5)
    assert model.config.max_position_embeddings == 512 and attn == "eager"
    assert model.training and model.config.use_cache is False
    on = getattr(model, "is_activation_checkpointing", None)  # transformers >= 5.2x; older name below
    assert on if on is not None else model.is_gradient_checkpointing
    assert next(model.parameters()).dtype == torch.float32


def test_dtype_rules_and_missing_model():
    assert resolve_dtype("auto", "cpu") == "float32"
    assert resolve_dtype("bfloat16", "cpu") == "bfloat16"
    with pytest.raises(R1Error, match="GPU"):
        resolve_dtype("float16", "cpu")
    with pytest.raises(R1Error, match="model.path is required"):
        load_for_training(ModelSection(), device="cpu")
    with pytest.raises(R1Error, match="no model directory './no/such/model'"):
        load_for_training(ModelSection(path="./no/such/model"), device="cpu")


def test_gradient_checkpointing_same_loss(sft_assets, make_sft_config, tmp_path):
    from r1cli.train.sft import run_sft

    a = run_sft(make_sft_config(sft_assets, tmp_path / "a", max_steps=2, save_final=False))
    b = run_sft(make_sft_config(sft_assets, tmp_path / "b", max_steps=2, save_final=False,
                                gradient_checkpointing=True))
    assert b["final_loss"] == pytest.approx(a["final_loss"], abs=1e-6)
