"""Fixtures for trainer tests: a very small Qwen2 model built in memory (no hub, no files)."""

from __future__ import annotations

import pytest


def make_tiny_model(seed: int = 0, vocab: int = 48, tie: bool = True):
    """A 1-layer Qwen2 (hidden 32) in fp32; same seed -> same weights."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    cfg = Qwen2Config(vocab_size=vocab, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                      num_key_value_heads=1, intermediate_size=64, max_position_embeddings=128,
                      tie_word_embeddings=tie, attn_implementation="sdpa")
    return Qwen2ForCausalLM(cfg).float()


@pytest.fixture
def tiny_model_factory():
    return make_tiny_model


@pytest.fixture(scope="session")
def sft_assets(tmp_path_factory):
    """A very small tiny-world model dir (hidden 32) and 64 arith SFT records, built once."""
    from r1cli.models.tiny import init_tiny
    from r1cli.tasks import write_task_data

    root = tmp_path_factory.mktemp("sft_assets")
    model = init_tiny(root / "model", hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1,
                      intermediate_size=64, max_position_embeddings=256)
    data = write_task_data("arith", 64, 0, root / "data")
    return {"model": str(model), "data": str(data["sft"]), "root": root}


def sft_config(assets, out, **train):
    """An SFTConfig for the session assets with train-section overrides (data.* via data__key)."""
    from r1cli.config.core import validate
    from r1cli.config.sft import SFTConfig

    data = {k[6:]: train.pop(k) for k in list(train) if k.startswith("data__")}
    resume = train.pop("resume", None)
    base = {"learning_rate": 1e-3, "lr_scheduler": "constant", "max_steps": 2, "per_device_batch_size": 4,
            "logging_steps": 1, "cpu_threads": 1, "device": "cpu"}
    return validate(SFTConfig, {"output_dir": str(out), "model": {"path": assets["model"]},
                                "data": {"path": assets["data"], "max_length": 128, **data},
                                "train": {**base, **train}, "resume": resume})


@pytest.fixture
def make_sft_config():
    return sft_config
