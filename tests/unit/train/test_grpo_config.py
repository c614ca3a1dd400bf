"""`r1 grpo` config: every shipped preset validates (and builds its rewards and prompt), flags and
shorthands parse, every misuse is one clear error."""

from __future__ import annotations

import pytest

from r1cli.config.core import PRESET_DIR, list_presets, resolve_config
from r1cli.config.grpo import GRPOConfig
from r1cli.errors import R1Error
from r1cli.train.rollout import fill_template

GRPO_PRESETS = [name.split("/", 1)[1] for name in list_presets("grpo")]


def test_the_issue_presets_ship():
    assert {"r1-zero", "dapo", "dr-grpo", "simplerl-zoo", "deepscaler", "open-r1", "countdown", "tiny"} <= set(
        GRPO_PRESETS)


@pytest.mark.parametrize("name", GRPO_PRESETS)
def test_preset_validates_and_builds(name):
    from r1cli.rewards import combine_rewards

    cfg = resolve_config(GRPOConfig, command="grpo", preset=name)
    names, weights = list(cfg.rewards.names), cfg.rewards.weights
    if isinstance(weights, dict):
        names, weights = [f"{n}:{weights.get(n, 1.0)}" for n in names], None
    combine_rewards(names, weights, cfg.rewards.params)  # every reward name and parameter exists
    prompt = fill_template(cfg.data.prompt_template, {"problem": "P?", "numbers": [1, 2], "target": 3})
    assert "P?" in prompt or "[1, 2]" in prompt
    text = (PRESET_DIR / "grpo" / f"{name}.yaml").read_text()
    header = text.splitlines()
    assert header[0].startswith("# ") and len(header[0]) > 10  # one-line description
    assert "Source:" in text and "r1 grpo --preset " + name in text  # source and the command


def test_r1_zero_prompt_is_the_paper_template():
    cfg = resolve_config(GRPOConfig, command="grpo", preset="r1-zero")
    text = fill_template(cfg.data.prompt_template, {"problem": "What is 2+2?"})
    assert text.startswith("A conversation between User and Assistant.")
    assert text.endswith("User: What is 2+2?. Assistant:") and cfg.data.chat_template is False


def test_dapo_values():
    g = resolve_config(GRPOConfig, command="grpo", preset="dapo").grpo
    assert (g.clip_low, g.clip_high, g.loss_agg, g.beta) == (0.2, 0.28, "token-mean", 0.0)
    assert g.dynamic_sampling and g.mask_truncated_completions


def test_reward_shorthands():
    cfg = resolve_config(GRPOConfig, command="grpo", flags={"rewards.names": "acc,format",
                                                             "rewards.weights": "1,0.5"})
    assert cfg.rewards.names == ["acc", "format"] and cfg.rewards.weights == [1.0, 0.5]
    cfg = resolve_config(GRPOConfig, command="grpo", sets=["rewards.names=acc,format",
                                                           "rewards.weights=acc:1,format:0.25"])
    assert cfg.rewards.weights == {"acc": 1.0, "format": 0.25}


@pytest.mark.parametrize("sets, message", [
    (["rewards.names=acc,format", "rewards.weights=1"], "1 values for 2 rewards"),
    (["rewards.weights=cosine:1"], "not in rewards.names"),
    (["rewards.params={format: {style: think}}"], "parameters for 'format'"),
    (["grpo.kl_placement=reward"], "needs grpo.beta > 0"),
    (["grpo.ref_reset_steps=10"], "grpo.beta > 0"),
    (["grpo.mini_batches=3"], "must divide the rollout batch"),
    (["generation.backend=openai"], "generation.backend"),
    (["generation.base_url=http://x"], "openai-backend option"),
    (["grpo.estimator=rloo", "grpo.scale=none"], "applies to the 'grpo' estimator only"),
    (["grpo.clip_hgh=0.3"], "did you mean 'grpo.clip_high'"),
    (["grpo.loss_agg=token-sum"], "grpo.loss_agg"),
])
def test_config_errors(sets, message):
    with pytest.raises(R1Error, match=message):
        resolve_config(GRPOConfig, command="grpo", sets=sets)


# ------------------------------------------------------------------ rollout engine: auto -> vllm / hf
def _auto_cfg(**sets):
    from r1cli.config.core import resolve_config
    from r1cli.config.grpo import GRPOConfig

    return resolve_config(GRPOConfig, command="grpo", sets=[f"{k}={v}" for k, v in sets.items()])


def _fake_env(monkeypatch, *, cuda: bool, vllm: bool):
    import importlib.util

    from r1cli.train import distributed

    monkeypatch.setattr(distributed, "pick_device", lambda requested="auto", local_rank=0:
                        f"cuda:{local_rank}" if cuda and requested in ("auto", "cuda") else "cpu")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: (object() if vllm else None) if name == "vllm" else real(name, *a))


@pytest.mark.parametrize("cuda,vllm,expected,warned", [
    (True, True, "vllm", False),   # the default on GPU: vLLM colocated
    (True, False, "hf", True),     # GPU without vLLM: hf, with a warning that says how to install it
    (False, True, "hf", False),    # CPU: hf
    (False, False, "hf", False),
])
def test_auto_backend_resolves_by_device_and_vllm(monkeypatch, cuda, vllm, expected, warned):
    from r1cli.train.grpo import resolve_rollout_backend

    _fake_env(monkeypatch, cuda=cuda, vllm=vllm)
    cfg = _auto_cfg()
    assert cfg.generation.backend == "auto"  # the default
    said = []
    out = resolve_rollout_backend(cfg, warn=said.append)
    assert out.generation.backend == expected
    assert bool(said) == warned and all("pip install 'r1cli[vllm]'" in m for m in said)
    assert out.generation.n == cfg.generation.n and out.train == cfg.train  # nothing else changes


def test_explicit_backend_is_kept(monkeypatch):
    from r1cli.train.grpo import resolve_rollout_backend

    _fake_env(monkeypatch, cuda=True, vllm=True)
    assert resolve_rollout_backend(_auto_cfg(**{"generation.backend": "hf"})).generation.backend == "hf"
    _fake_env(monkeypatch, cuda=False, vllm=False)
    assert resolve_rollout_backend(_auto_cfg(**{"generation.backend": "vllm"})).generation.backend == "vllm"


@pytest.mark.parametrize("world,rank", [(1, 0), (4, 3)])
def test_vllm_rollout_engine_is_colocated_per_rank(monkeypatch, world, rank):
    from types import SimpleNamespace

    from r1cli.generation import factory
    from r1cli.train.grpo import make_rollout_backend

    seen = {}
    monkeypatch.setattr(factory, "make_backend", lambda kind, model, **opts: seen.update(kind=kind, model=model, **opts))
    cfg = _auto_cfg(**{"generation.backend": "vllm", "model.path": "Qwen/Qwen2.5-0.5B",
                       "generation.gpu_memory_utilization": 0.25, "generation.seed": 5})
    ctx = SimpleNamespace(is_distributed=world > 1, rank=rank, world_size=world)
    make_rollout_backend(cfg, model=None, tokenizer=None, ctx=ctx)
    assert seen["kind"] == "vllm" and seen["model"] == "Qwen/Qwen2.5-0.5B"
    assert seen["gpu_memory_utilization"] == 0.25 and seen["tensor_parallel_size"] == 1
    if world > 1:  # one engine per training rank, inside the launcher's process group, its own seed
        assert seen["distributed_executor_backend"] == "external_launcher" and seen["seed"] == 5 + rank
    else:
        assert "distributed_executor_backend" not in seen and seen["seed"] == 5
