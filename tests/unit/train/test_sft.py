"""The SFT trainer: data plan, token-normalised accumulation, packing, NaN stop, outputs."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from r1cli.train.sft import DataPlan, TrainingDivergedError, micro_slots, run_sft


@dataclass
class Ex:
    input_ids: list
    loss_mask: list


def test_step_units_cover_each_epoch_once():
    units = [[Ex([i, i], [0, 1])] for i in range(10)]
    plan = DataPlan(units, global_batch=4, seed=3, shuffle=True)
    assert plan.steps_per_epoch == 3  # ceil(10 / 4): steps of 4, 4, 2
    epoch0 = [u[0].input_ids[0] for s in range(3) for u in plan.step_units(s)]
    assert sorted(epoch0) == list(range(10))
    epoch1 = [u[0].input_ids[0] for s in range(3, 6) for u in plan.step_units(s)]
    assert sorted(epoch1) == list(range(10)) and epoch1 != epoch0  # reshuffled per epoch
    assert [len(plan.step_units(s)) for s in range(3)] == [4, 4, 2]
    same = DataPlan(units, global_batch=4, seed=3, shuffle=True)
    assert same.step_units(4) == plan.step_units(4) and same.fingerprint() == plan.fingerprint()


def test_micro_slots_same_for_one_or_two_processes():
    units = list("abcdefgh")
    one = micro_slots(units, rank=0, world_size=1, micro_batch=2, grad_accum=4)
    two = [micro_slots(units, rank=r, world_size=2, micro_batch=2, grad_accum=2) for r in (0, 1)]
    assert one == [["a", "b"], ["c", "d"], ["e", "f"], ["g", "h"]]
    assert two[0] + two[1] == one
    # a short last step leaves trailing slots empty
    assert micro_slots(list("abc"), rank=1, world_size=2, micro_batch=2, grad_accum=1) == [["c"]]
    assert micro_slots(list("ab"), rank=1, world_size=2, micro_batch=2, grad_accum=1) == [[]]


def _weights(path):
    from r1cli.train.checkpoint import read_weights

    return read_weights(path)


def test_accumulation_is_normalised_by_step_tokens(sft_assets, make_sft_config, tmp_path):
    """1 micro-batch of 8 and 4 micro-batches of 2 give the same update (sum of token losses / N)."""
    import torch

    a = run_sft(make_sft_config(sft_assets, tmp_path / "a", per_device_batch_size=8,
                                gradient_accumulation_steps=1, max_steps=1))
    b = run_sft(make_sft_config(sft_assets, tmp_path / "b", per_device_batch_size=2,
                                gradient_accumulation_steps=4, max_steps=1))
    assert a["final_loss"] == pytest.approx(b["final_loss"], abs=1e-6)
    wa, wb = _weights(tmp_path / "a" / "final"), _weights(tmp_path / "b" / "final")
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], atol=1e-6, rtol=0, msg=k)
    init = _weights(sft_assets["model"])
    assert any(not torch.equal(wa[k], init[k]) for k in wa)  # it did train


def test_outputs_and_packing(sft_assets, make_sft_config, tmp_path):
    out = tmp_path / "run"
    s = run_sft(make_sft_config(sft_assets, out, max_steps=3, save_steps=2, save_total_limit=1,
                                data__packing=True))
    assert s["units"] < 64  # 64 short examples packed into rows of 128 tokens
    assert s["steps"] == 3 and s["data"]["kept"] == 64
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("checkpoint-")) == ["checkpoint-3"]
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 2, 3] and {"loss", "lr", "tokens_per_s"} <= set(lines[0])
    assert (out / "loss.png").is_file() and (out / "config.yaml").is_file()
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(out / "final")
    eos = model.generation_config.eos_token_id
    assert (eos if isinstance(eos, list) else [eos]).count(2) == 1  # <|im_end|> (id 2) ends generation


def test_nan_loss_stops_and_keeps_last_good_checkpoint(sft_assets, make_sft_config, tmp_path, monkeypatch):
    import r1cli.train.sft as sft_mod

    real = sft_mod.token_loss_sum
    calls = {"n": 0}

    def poisoned(engine, batch, logits_mask):
        calls["n"] += 1
        loss = real(engine, batch, logits_mask)
        return loss * float("nan") if calls["n"] == 3 else loss  # step 3 (1 micro-batch per step)

    monkeypatch.setattr(sft_mod, "token_loss_sum", poisoned)
    out = tmp_path / "nan"
    with pytest.raises(TrainingDivergedError, match=r"loss became nan at step 3.*checkpoint-2"):
        run_sft(make_sft_config(sft_assets, out, max_steps=4, save_steps=2))
    assert (out / "checkpoint-2").is_dir() and not (out / "checkpoint-4").exists()
    last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert last == {"step": 3, "loss": "nan", "grad_norm": "nan"}


def test_fresh_start_refuses_a_dir_with_checkpoints(sft_assets, make_sft_config, tmp_path):
    from r1cli.errors import R1Error

    out = tmp_path / "run"
    run_sft(make_sft_config(sft_assets, out, max_steps=1, save_steps=1, save_final=False))
    with pytest.raises(R1Error, match="--resume latest"):
        run_sft(make_sft_config(sft_assets, out, max_steps=2, save_steps=1))
    s = run_sft(make_sft_config(sft_assets, out, max_steps=2, save_steps=1, resume="latest"))
    assert (s["start_step"], s["steps"]) == (1, 2)
