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
