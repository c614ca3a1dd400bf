"""`r1 dpo`'s trainer on a very small random model: the first loss is log 2 (policy = reference), the
reference log-probs are cached and reused, the policy moves toward the chosen completions, resume is
exact, and bad pair files fail with file:line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from r1cli.config.core import list_presets, resolve_config  # noqa: E402
from r1cli.config.dpo import DPOConfig  # noqa: E402
from r1cli.errors import R1Error  # noqa: E402
from r1cli.train import dpo as dpo_mod  # noqa: E402


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from r1cli.models.tiny import init_tiny

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("dpo-world")
    model = init_tiny(root / "model", hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1,
                      intermediate_size=64, max_position_embeddings=256)
    pairs = [{"id": f"p{i}", "problem": f"What is {i} + {i}?", "chosen": f"<think>\n{i}+{i}={2 * i}\n</think>\n\\boxed{{{2 * i}}}",
              "rejected": f"<think>\n{i}+{i}={2 * i + 1}\n</think>\n\\boxed{{{2 * i + 1}}}"} for i in range(12)]
    data = root / "pairs.jsonl"
    data.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    return {"model": str(model), "data": str(data)}


def config(world, out, *sets):
    return resolve_config(DPOConfig, command="dpo", sets=[
        f"model.path={world['model']}", f"data.path={world['data']}", f"output_dir={out}", "train.max_steps=4",
        "train.per_device_batch_size=2", "train.gradient_accumulation_steps=2", "train.learning_rate=5e-3",
        "train.lr_scheduler=constant", "train.device=cpu", "train.logging_steps=1", *sets])


def metrics(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_trains_toward_the_chosen_completions(world, tmp_path):
    summary = dpo_mod.run_dpo(config(world, tmp_path / "a"))
    rows = metrics(tmp_path / "a")
    assert rows[0]["loss"] == pytest.approx(math.log(2), abs=1e-5)  # step 1: policy == reference
    assert rows[0]["reward_margin"] == pytest.approx(0.0, abs=1e-5)
    assert rows[-1]["loss"] < rows[0]["loss"] and rows[-1]["reward_margin"] > 0
    assert summary["pairs"] == 12 and (tmp_path / "a" / "final" / "config.json").is_file()
    cache = json.loads((tmp_path / "a" / dpo_mod.REF_CACHE).read_text())
    assert len(cache["logps"]) == 12
    # a rerun of the finished run changes nothing
    again = dpo_mod.run_dpo(config(world, tmp_path / "a"))
    assert again["already_finished"] is True


def test_micro_batching_does_not_change_the_update(world, tmp_path):
    from r1cli.train.checkpoint import read_weights

    dpo_mod.run_dpo(config(world, tmp_path / "a"))
    dpo_mod.run_dpo(config(world, tmp_path / "b", "train.per_device_batch_size=4", "train.gradient_accumulation_steps=1"))
    a, b = read_weights(tmp_path / "a" / "final"), read_weights(tmp_path / "b" / "final")
    assert all(torch.allclose(a[k], b[k], atol=1e-5, rtol=0) for k in a)  # float rounding of the sums only


@pytest.mark.parametrize("loss", ["ipo", "sigmoid-norm", "nca"])
def test_other_losses_run(world, tmp_path, loss):
    dpo_mod.run_dpo(config(world, tmp_path / loss, f"dpo.loss={loss}", "train.max_steps=2"))
    assert all(math.isfinite(r["loss"]) for r in metrics(tmp_path / loss))


def test_resume_is_exact_and_reuses_the_reference_cache(world, tmp_path, monkeypatch):
    from r1cli.train.checkpoint import read_weights

    dpo_mod.run_dpo(config(world, tmp_path / "straight"))
    import r1cli.rl.dpo as losses_mod

    original_loss, calls = losses_mod.dpo_loss, {"n": 0}

    def dying(*args, **kwargs):  # "kill" the run inside step 3 (after checkpoint 2): 2 micro-batches a step
        calls["n"] += 1
        if calls["n"] > 2 * 2:
            raise KeyboardInterrupt("simulated kill")
        return original_loss(*args, **kwargs)

    monkeypatch.setattr(losses_mod, "dpo_loss", dying)
    with pytest.raises(KeyboardInterrupt):
        dpo_mod.run_dpo(config(world, tmp_path / "cut", "train.save_steps=2"))
    monkeypatch.setattr(losses_mod, "dpo_loss", original_loss)
    original = dpo_mod.sequence_logps
    cache_before = (tmp_path / "cut" / dpo_mod.REF_CACHE).read_text()

    counted = {"n": 0}

    def counting(*args, **kwargs):
        counted["n"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(dpo_mod, "sequence_logps", counting)
    dpo_mod.run_dpo(config(world, tmp_path / "cut", "train.save_steps=2", "resume=latest"))
    assert counted["n"] == 2 * 2  # steps 3 and 4 only: the reference log-probs came from the cache
    assert (tmp_path / "cut" / dpo_mod.REF_CACHE).read_text() == cache_before
    a, b = read_weights(tmp_path / "straight" / "final"), read_weights(tmp_path / "cut" / "final")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["loss"] for r in metrics(tmp_path / "straight")][-1] == [r["loss"] for r in metrics(tmp_path / "cut")][-1]


def test_reference_cache_is_keyed_by_data(world, tmp_path):
    dpo_mod.run_dpo(config(world, tmp_path / "a", "train.max_steps=1"))
    key = json.loads((tmp_path / "a" / dpo_mod.REF_CACHE).read_text())["key"]
    dpo_mod.run_dpo(config(world, tmp_path / "b", "train.max_steps=1", "data.limit=6"))
    other = json.loads((tmp_path / "b" / dpo_mod.REF_CACHE).read_text())
    assert other["key"] != key and len(other["logps"]) == 6


@pytest.mark.parametrize(("content", "message"), [
    ('{"id": "a", "problem": "p", "chosen": "x", "rejected": "x"}', r"pairs.jsonl:1: chosen and rejected are the same"),
    ('{"id": "a", "problem": "p", "chosn": "x", "rejected": "y"}', r"pairs.jsonl:1: no field 'chosen' \(did you mean 'chosn'\?\)"),
    ('{"id": "a", "problem": "p", "chosen": ["x"], "rejected": "y"}', r"pairs.jsonl:1: field 'chosen' must be a string, got list"),
    ('{"id": "a", "question": "p", "chosen": "x", "rejected": "y"}', r"no field 'problem'"),
])
def test_bad_pairs_name_file_and_line(world, tmp_path, content, message):
    bad = tmp_path / "pairs.jsonl"
    bad.write_text(content + "\n")
    cfg = config(world, tmp_path / "out", f"data.path={bad}")
    with pytest.raises(R1Error, match=message):
        dpo_mod.run_dpo(cfg)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", [n.split("/", 1)[1] for n in list_presets("dpo")])
def test_every_dpo_preset_resolves(name):
    cfg = resolve_config(DPOConfig, command="dpo", preset=name)
    assert cfg.dpo.beta > 0 and cfg.train.learning_rate > 0


def test_light_r1_dpo_carries_the_published_numbers():
    cfg = resolve_config(DPOConfig, command="dpo", preset="light-r1-dpo")
    assert (cfg.dpo.loss, cfg.dpo.beta, cfg.train.learning_rate, cfg.train.lr_scheduler, cfg.train.num_epochs,
            cfg.data.max_length) == ("nca", 0.3, 5e-7, "constant", 3, 32768)


def test_iterative_dpo_rounds_sample_with_the_current_policy_and_resume(world, tmp_path, monkeypatch):
    from r1cli.generation import run as run_mod

    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps({"id": f"q{i}", "problem": f"What is {i} + {i}?", "answer": str(2 * i)})
                                + "\n" for i in range(6)))
    used = []

    def fake_sample(cfg):  # one right and one wrong completion per problem (r1 sample is tested on its own)
        used.append(cfg.model.path)
        out = Path(cfg.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        rows = [json.loads(line) for line in problems.read_text().splitlines()][:cfg.data.limit]
        (out / "samples.jsonl").write_text("".join(json.dumps({**r, "samples": [
            {"text": f"<think>\nsum\n</think>\n\\boxed{{{r['answer']}}}"},
            {"text": f"<think>\nsum\n</think>\n\\boxed{{{int(r['answer']) + 1}}}"}]}) + "\n" for r in rows))

    monkeypatch.setattr(run_mod, "run_sample", fake_sample)
    with pytest.raises(R1Error, match="drop --data"):  # a pairs file and --rounds do not mix
        dpo_mod.run_iterative_dpo(config(world, tmp_path / "both", "rounds=2", f"iterate.problems={problems}"))
    cfg = config(world, tmp_path / "it", "data.path=null", "rounds=2", f"iterate.problems={problems}",
                 "iterate.limit=4", "train.max_steps=2")
    summary = dpo_mod.run_iterative_dpo(cfg)
    out = tmp_path / "it"
    assert [r["pairs"] for r in summary["rounds"]] == [4, 4]
    assert used == [world["model"], str(out / "round-1" / "dpo" / "final")]  # round 2 samples round 1's policy
    assert (out / "final").resolve() == (out / "round-2" / "dpo" / "final").resolve()
    pairs = [json.loads(line) for line in (out / "round-2" / "pairs.jsonl").read_text().splitlines()]
    assert all(p["chosen"].endswith(f"{{{p['answer']}}}") for p in pairs)
    before = (out / "round-2" / "dpo" / "final" / "model.safetensors").read_bytes()
    again = dpo_mod.run_iterative_dpo(cfg)  # a rerun finds every round finished and trains nothing
    assert (out / "round-2" / "dpo" / "final" / "model.safetensors").read_bytes() == before
    assert [r["pairs"] for r in again["rounds"]] == [4, 4]
    with pytest.raises(R1Error, match="iterate.problems is required"):
        dpo_mod.run_iterative_dpo(config(world, tmp_path / "none", "data.path=null", "rounds=2"))


def test_pair_layout_follows_the_attention(world, tmp_path):
    from r1cli.train.dpo import pair_layout

    model = torch.nn.Linear(2, 2)
    cfg = config(world, tmp_path / "x")
    assert pair_layout(cfg, "sdpa", model)["row_tokens"] is None  # rows no longer than the longest pair
    assert pair_layout(cfg, "flash_attention_2", model)["row_tokens"] == cfg.data.max_length  # packed
    assert pair_layout(config(world, tmp_path / "x", "data.packing=false"), "sdpa", model)["row_tokens"] == 0
    assert pair_layout(config(world, tmp_path / "x", "data.packing=true", "data.pack_length=64"), "sdpa",
                       model)["row_tokens"] == 64
    with pytest.raises(R1Error, match=r"data.share_prefix needs an attention that takes a mask"):
        pair_layout(config(world, tmp_path / "x", "data.share_prefix=true"), "flash_attention_2", model)


@pytest.mark.parametrize("layout", [["data.packing=false"], ["data.share_prefix=false"], ["data.packing=true"]])
def test_every_layout_gives_the_same_run(world, tmp_path, layout):
    from r1cli.train.checkpoint import read_weights

    dpo_mod.run_dpo(config(world, tmp_path / "a"))
    dpo_mod.run_dpo(config(world, tmp_path / "b", *layout))
    a, b = read_weights(tmp_path / "a" / "final"), read_weights(tmp_path / "b" / "final")
    assert all(torch.allclose(a[k], b[k], atol=1e-5, rtol=0) for k in a)
