"""Fixtures for generation tests: the real tiny model of the tiny world, built once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """An HF model directory made by ``r1cli.models.tiny.init_tiny`` (random weights, BPE tokenizer)."""
    import torch

    from r1cli.models.tiny import init_tiny

    # 2 shared cores: torch's default intra-op threads spin against other processes and made a
    # 40-token decode 30x slower here (0.55 s with 1 thread vs 17 s with 2 under load).
    torch.set_num_threads(1)
    return init_tiny(tmp_path_factory.mktemp("tiny-model"), hidden_size=64, num_layers=2,
                     intermediate_size=128, max_position_embeddings=256)


@pytest.fixture(scope="session")
def tiny_backend(tiny_model_dir):
    """An ``HFBackend`` on the tiny model (CPU, fp32, loop engine)."""
    from r1cli.generation.hf import HFBackend

    return HFBackend(str(tiny_model_dir), device="cpu")


@pytest.fixture
def chat_prompts():
    """Two chat prompts of different lengths (so left padding is exercised)."""
    return [
        [{"role": "user", "content": "What is 2+3?"}],
        [{"role": "user", "content": "Compute 17*4 step by step, then give the final answer."}],
    ]
