"""The GRPO trainer end to end on a very small random model with a fake reward (fast): every option
runs a step, resume is exact, and misconfigurations fail with one clear line."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from r1cli.config.core import resolve_config  # noqa: E402
from r1cli.config.grpo import GRPOConfig  # noqa: E402
from r1cli.errors import R1Error  # noqa: E402
from r1cli.train import grpo as grpo_mod  # noqa: E402


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from r1cli.models.tiny import init_tiny
    from r1cli.tasks import write_task_data

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("grpo-world")
    model = init_tiny(root / "model", hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1,
                      intermediate_size=64, max_position_embeddings=256)
    data = write_task_data("arith", 24, 0, root / "data", held_out=6)
    return {"model": str(model), "data": str(data["problems"]), "held_out": str(data["held_out"])}


def fake_scorer(rewards_cfg):
    """reward = fraction of digits among the completion's characters; component 'accuracy' = reward > 0.3."""

    def score(texts, columns):
        assert len(columns["answer"]) == len(texts) and len(columns["completion_ids"]) == len(texts)
        frac = [sum(ch.isdigit() for ch in t) / max(1, len(t)) for t in texts]
        return frac, {"accuracy": [float(f > 0.3) for f in frac], "digits": frac}

    return score, ["accuracy", "digits"], "accuracy"


@pytest.fixture
def run(world, tmp_path, monkeypatch):
    monkeypatch.setattr(grpo_mod, "make_scorer", fake_scorer)

    def _run(name="run", *sets, crash_at=None):
        cfg = resolve_config(GRPOConfig, command="grpo", sets=[
            f"model.path={world['model']}", f"data.path={world['data']}", f"output_dir={tmp_path / name}",
            "generation.n=4", "generation.max_new_tokens=6", "grpo.prompts_per_step=2", "train.max_steps=2",
            "train.learning_rate=1e-2", "train.device=cpu", "train.plots=false", *sets])
        trainer = grpo_mod.GRPOTrainer(cfg)
        if crash_at is not None:
            original = trainer.train_step

            def step(rollout):
                if trainer.step == crash_at:
                    raise KeyboardInterrupt("simulated kill")
                return original(rollout)

            trainer.train_step = step
        try:
            return trainer.train(), tmp_path / name
        finally:
            trainer.ctx.close()

    return _run


def _metrics(path):
    return [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]


def _weights(path):
    from r1cli.train.checkpoint import read_weights

    return read_weights(path / "final")


def test_default_run_writes_model_metrics_and_changes_weights(run, world):
    last, out = run()
    from r1cli.train.checkpoint import read_weights

    before, after = read_weights(world["model"]), _weights(out)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    rows = _metrics(out)
    assert [r["step"] for r in rows] == [1, 2]
    for key in ("reward_mean", "reward_std", "reward/accuracy", "reward/digits", "accuracy", "frac_reward_zero_std",
                "completion_length_mean", "completion_length_max", "correct_length_mean", "wrong_length_mean",
                "truncated_frac", "clip_frac_low", "clip_frac_high", "kl_mean", "entropy", "grad_norm", "lr",
                "logp_gap_mean", "reflection_per_1k_tokens"):
        assert key in rows[-1], key
    assert rows[-1]["completions"] == 8  # 2 prompts x G 4
    assert rows[-1]["logp_gap_mean"] < 1e-4  # hf backend shares the policy: same log-probs


@pytest.mark.parametrize("sets", [
    ["grpo.beta=0.05", "grpo.kl=k2"],
    ["grpo.beta=0.05", "grpo.kl_placement=reward", "grpo.kl=k1"],
    ["grpo.iterations=2", "grpo.mini_batches=2", "grpo.micro_batch_size=2"],
    ["grpo.loss_agg=seq-mean-token-sum-norm", "grpo.scale=none", "grpo.entropy_coef=0.01"],
    ["grpo.estimator=rloo", "grpo.ratio_level=sequence", "grpo.dual_clip=3.0"],
    ["grpo.dynamic_sampling=true", "grpo.dynamic_sampling_max_rounds=2", "grpo.mask_truncated_completions=true"],
    ["grpo.importance_sampling=token", "grpo.importance_sampling_mode=mask", "data.curriculum=none"],
    ["grpo.estimator=reinforce"],
    ["grpo.estimator=reinforce-batch"],
    ["grpo.estimator=ppo"],
    ["grpo.estimator=ppo", "grpo.beta=0.05", "grpo.kl_placement=reward", "grpo.kl=k1", "ppo.lam=0.95",
     "ppo.gamma=0.99", "ppo.value_clip=null", "ppo.whiten_advantages=false"],
    ["grpo.estimator=ppo", "grpo.iterations=2", "grpo.mini_batches=2", "ppo.critic_iterations=2",
     "ppo.critic_mini_batches=2", "grpo.micro_batch_size=3", "grpo.beta=0.05"],
])
def test_options_run_a_step(run, sets):
    last, out = run("opt", *sets, "train.max_steps=1")
    assert _metrics(out)[-1]["step"] == 1
    assert all(v == v for v in last.values() if isinstance(v, float))  # no NaN


def test_ref_reset_and_eval_curve(run, world):
    last, out = run("ref", "grpo.beta=0.1", "grpo.ref_reset_steps=1", f"eval.path={world['held_out']}",
                    "eval.every_steps=1")
    assert (out / "ref-step1.safetensors").is_file() and (out / "ref-step2.safetensors").is_file()
    rows = _metrics(out)
    assert [r["step"] for r in rows if "eval_accuracy" in r] == [0, 1, 2]


@pytest.mark.parametrize("algo", [[], ["grpo.estimator=reinforce-ema", "grpo.baseline_decay=0.5"],
                                  ["grpo.estimator=ppo", "ppo.critic_learning_rate=1e-2"]])
def test_resume_is_exact(run, algo):
    _, straight = run("straight", "train.max_steps=3", *algo)
    with pytest.raises(KeyboardInterrupt):
        run("resumed", "train.max_steps=3", "train.save_steps=2", *algo, crash_at=2)
    _, resumed = run("resumed", "train.max_steps=3", "train.save_steps=2", "resume=latest", *algo)
    a, b = _weights(straight), _weights(resumed)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    ra, rb = _metrics(straight), _metrics(resumed)
    assert [r["step"] for r in rb] == [1, 2, 3]
    for key in ("loss", "reward_mean", "grad_norm", "completion_length_mean"):
        assert ra[-1][key] == rb[-1][key], key
    if "grpo.estimator=ppo" in algo:  # the critic came back from its checkpoint too
        from r1cli.train.checkpoint import read_weights

        ca, cb = read_weights(straight / "critic"), read_weights(resumed / "critic")
        assert ca and all(torch.equal(ca[k], cb[k]) for k in ca)
        assert ra[-1]["value_loss"] == rb[-1]["value_loss"]
    elif algo:  # the moving-average baseline came back from the checkpoint
        assert ra[-1]["baseline"] == rb[-1]["baseline"]
        b1, b2, b3 = (r["baseline"] for r in ra)
        assert b2 == pytest.approx(0.5 * b1 + 0.5 * ra[1]["reward_mean"])


def test_errors_are_one_line(run, world, tmp_path):
    with pytest.raises(R1Error, match="multiple of the number of processes|no prompts"):
        cfg = resolve_config(GRPOConfig, command="grpo", sets=[f"model.path={world['model']}",
                                                               f"output_dir={tmp_path / 'e'}"])
        grpo_mod.GRPOTrainer(cfg)
    with pytest.raises(R1Error, match="prompt_template"):
        run("tpl", "data.prompt_template={numbers}")


def test_ppo_critic_learns_warms_up_and_is_reusable(run, world):
    from safetensors.torch import load_file

    from r1cli.train.checkpoint import read_weights

    _, out = run("ppo", "grpo.estimator=ppo", "ppo.critic_learning_rate=1e-2", "ppo.critic_warmup_steps=1",
                 "train.max_steps=3")
    rows = _metrics(out)
    assert rows[0]["policy_frozen"] == 1.0 and rows[0]["optimizer_steps"] == 0  # step 1: the critic alone
    assert "policy_frozen" not in rows[1] and rows[1]["optimizer_steps"] == 1
    assert rows[0]["value_mean"] == 0.0  # a zero-initialised value head: every value starts at 0
    assert rows[-1]["value_mean"] != 0.0 and all(r["value_loss"] > 0 for r in rows)
    head = load_file(str(out / "critic" / "value_head.safetensors"))
    assert head["weight"].shape == (1, 32) and float(head["weight"].abs().sum()) > 0
    # the saved critic (trunk + value head) continues as --critic of another run
    _, again = run("ppo2", "grpo.estimator=ppo", f"ppo.critic={out / 'critic'}", "train.max_steps=1")
    assert _metrics(again)[0]["value_mean"] != 0.0
    assert read_weights(again / "critic")


def test_ppo_critic_errors_are_one_line(run, world, tmp_path):
    import shutil

    from safetensors.torch import save_file

    bad = tmp_path / "bad-critic"
    shutil.copytree(world["model"], bad)
    save_file({"weight": torch.zeros(1, 48), "bias": torch.zeros(1)}, str(bad / "value_head.safetensors"))
    with pytest.raises(R1Error, match=r"value head .* hidden size 48 but the model's hidden size is 32"):
        run("c1", "grpo.estimator=ppo", f"ppo.critic={bad}")
    with pytest.raises(R1Error, match="no model directory"):
        run("c2", "grpo.estimator=ppo", f"ppo.critic={tmp_path / 'nope'}")
