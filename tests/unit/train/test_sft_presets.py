"""Every shipped SFT preset validates, has its header, and the DeepSpeed configs fill their "auto" values."""

from __future__ import annotations

import pytest

from r1cli.config.core import PRESET_DIR, find_preset, load_yaml_file, validate
from r1cli.config.sft import SFTConfig
from r1cli.errors import R1Error
from r1cli.train.engine import deepspeed_config

SFT_PRESETS = sorted(p.stem for p in (PRESET_DIR / "sft").glob("*.yaml"))


def test_expected_presets_exist():
    assert {"open-r1", "limo", "s1k", "light-r1-stage1", "tiny"} <= set(SFT_PRESETS)


@pytest.mark.parametrize("name", SFT_PRESETS)
def test_preset_validates_and_has_header(name):
    path = find_preset(name, "sft")
    cfg = validate(SFTConfig, load_yaml_file(path), f"preset {name}")
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# ") and len(lines[0]) > 20  # one-line description
    header = "\n".join(line for line in lines if line.startswith("#"))
    assert "Source" in header or "Our choice" in header
    assert "r1cli sft --preset" in header or "r1 sft --preset" in header  # the command that runs it
    if cfg.train.deepspeed:
        assert cfg.train.deepspeed in ("zero2", "zero3")


def test_open_r1_values_as_published():
    cfg = validate(SFTConfig, load_yaml_file(find_preset("open-r1", "sft")))
    # RECIPES.md A1: theta 300k, 32k context, lr 4e-5, 5 epochs, min-lr 0.1, warmup 0.03, clip 0.2
    assert (cfg.model.rope_theta, cfg.model.max_position_embeddings, cfg.data.max_length) == (300000, 32768, 32768)
    t = cfg.train
    assert (t.learning_rate, t.num_epochs, t.min_lr_ratio, t.warmup_ratio, t.max_grad_norm) == (4e-5, 5, 0.1, 0.03, 0.2)
    # 2 per GPU x grad-acc 8 x 8 GPUs = 128
    assert t.per_device_batch_size * t.gradient_accumulation_steps * 8 == 128
    assert t.bf16 and t.gradient_checkpointing and t.deepspeed == "zero3" and not cfg.data.packing


@pytest.mark.parametrize("stage", ["zero2", "zero3"])
def test_deepspeed_configs_fill_auto(stage):
    cfg = deepspeed_config(stage, micro_batch=2, grad_accum=8, world_size=8, max_grad_norm=0.2, bf16=True)
    assert cfg["zero_optimization"]["stage"] == int(stage[-1])
    # 2 x 8 x 8 = 128
    assert (cfg["train_batch_size"], cfg["train_micro_batch_size_per_gpu"], cfg["gradient_accumulation_steps"]) == (
        128, 2, 8)
    assert cfg["gradient_clipping"] == 0.2 and cfg["bf16"]["enabled"] is True
    assert "auto" not in str(cfg)


def test_deepspeed_config_errors(tmp_path):
    with pytest.raises(R1Error, match="zero2, zero3"):
        deepspeed_config("zero4", micro_batch=1, grad_accum=1, world_size=1, max_grad_norm=1.0, bf16=False)
    bad = tmp_path / "ds.json"
    bad.write_text('{"optimizer": {"type": "Adam"}}')
    with pytest.raises(R1Error, match="remove 'optimizer'"):
        deepspeed_config(str(bad), micro_batch=1, grad_accum=1, world_size=1, max_grad_norm=1.0, bf16=False)
