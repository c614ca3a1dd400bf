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
