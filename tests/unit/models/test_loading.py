"""load_model_and_tokenizer: overrides applied before the weights load, clear errors offline."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from r1cli.errors import R1Error  # noqa: E402
from r1cli.models.loading import load_model_and_tokenizer, resolve_source  # noqa: E402


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from r1cli.models.tiny import init_tiny

    torch.set_num_threads(1)
    return init_tiny(tmp_path_factory.mktemp("tiny-load"), hidden_size=32, num_layers=1, intermediate_size=64)


def test_loads_with_overrides(tiny_dir):
    model, tok = load_model_and_tokenizer(
        tiny_dir, device="cpu", rope_theta=50_000.0, max_position_embeddings=2048
    )
    assert model.config.max_position_embeddings == 2048
    assert model.config.rope_parameters["rope_theta"] == 50_000.0
    # the rotary embedding was built from the overridden base: inv_freq[1] = 50000^(-2/8) for head_dim 8
    inv_freq = model.model.rotary_emb.inv_freq
    assert inv_freq[1].item() == pytest.approx(50_000.0 ** (-2 / 8), rel=1e-5)
    assert tok.model_max_length >= 2048
    assert next(model.parameters()).dtype == torch.float32  # "auto" on CPU


def test_dtype_and_attn_implementation(tiny_dir):
    model, _ = load_model_and_tokenizer(tiny_dir, device="cpu", dtype="bf16", attn_implementation="eager")
    assert next(model.parameters()).dtype == torch.bfloat16
    assert model.config._attn_implementation == "eager"
    with pytest.raises(R1Error, match="unknown dtype"):
        load_model_and_tokenizer(tiny_dir, device="cpu", dtype="float8")


def test_missing_local_path(tmp_path):
    with pytest.raises(R1Error, match="no model directory"):
        resolve_source(tmp_path / "no" / "such" / "model")
    with pytest.raises(R1Error, match="no model directory"):
        resolve_source("./runs/missing")


def test_file_or_dir_without_config(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(R1Error, match="is a file"):
        resolve_source(tmp_path / "weights.bin")
    with pytest.raises(R1Error, match="config.json"):
        resolve_source(tmp_path)


def test_hub_id_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(R1Error, match="hub is offline"):
        load_model_and_tokenizer("Qwen/Qwen2.5-Math-1.5B", device="cpu")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    assert resolve_source("Qwen/Qwen2.5-Math-1.5B") == "Qwen/Qwen2.5-Math-1.5B"  # no network touched
