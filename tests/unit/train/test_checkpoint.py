"""Checkpoints: atomic layout, save_total_limit, latest discovery, exact restore, EOS consistency."""

import json

import pytest

from r1cli.errors import R1Error
from r1cli.train.checkpoint import (
    capture_rng_state,
    ensure_eos_consistency,
    find_latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    resolve_resume,
    save_checkpoint,
)
from r1cli.train.optim import build_optimizer, build_scheduler


def _train_steps(model, opt, sched, n, seed=0):
    import torch

    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        x = torch.randint(0, 48, (2, 6), generator=g)
        model(input_ids=x, labels=x).loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad()


def _setup(factory):
    model = factory(seed=0)
    opt = build_optimizer(model, lr=1e-2, weight_decay=0.1)
    sched = build_scheduler(opt, schedule="cosine", total_steps=20, warmup_steps=2, min_lr_ratio=0.1)
    return model, opt, sched


def test_save_total_limit_and_latest(tmp_path, tiny_model_factory):
    model, opt, sched = _setup(tiny_model_factory)
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, step, model, None, opt, sched, {"epoch": 0, "batch": step},
                        "seed: 1\n", save_total_limit=2)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [2, 3]
    latest = find_latest_checkpoint(tmp_path)
    assert latest.name == "checkpoint-3"
    assert (latest / "model.safetensors").is_file() and (latest / "config.yaml").read_text() == "seed: 1\n"
    assert json.loads((latest / "trainer_state.json").read_text())["extra"] == {"epoch": 0, "batch": 3}
    # a half-written save (temp dir) and an incomplete dir are never "latest"
    (tmp_path / ".tmp-checkpoint-9").mkdir()
    (tmp_path / "checkpoint-10").mkdir()
    assert find_latest_checkpoint(tmp_path).name == "checkpoint-3"
    assert resolve_resume("latest", tmp_path).name == "checkpoint-3"
    assert resolve_resume(None, tmp_path) is None
    assert resolve_resume(str(tmp_path / "checkpoint-2"), tmp_path).name == "checkpoint-2"
    with pytest.raises(R1Error, match="not a checkpoint"):
        resolve_resume(str(tmp_path / "nowhere"), tmp_path)


def test_restore_continues_exactly(tmp_path, tiny_model_factory):
    import torch

    # uninterrupted: 5 steps
    ref, ref_opt, ref_sched = _setup(tiny_model_factory)
    _train_steps(ref, ref_opt, ref_sched, 3, seed=1)
    _train_steps(ref, ref_opt, ref_sched, 2, seed=2)
    # interrupted after 3 steps, restored into a differently initialised model
    model, opt, sched = _setup(tiny_model_factory)
    _train_steps(model, opt, sched, 3, seed=1)
    torch.manual_seed(123)
    rng_before = torch.rand(3)
    torch.manual_seed(123)
    path = save_checkpoint(tmp_path, 3, model, None, opt, sched, {"epoch": 1})
    fresh = tiny_model_factory(seed=5)
    opt2 = build_optimizer(fresh, lr=1e-2, weight_decay=0.1)
    sched2 = build_scheduler(opt2, schedule="cosine", total_steps=20, warmup_steps=2, min_lr_ratio=0.1)
    torch.manual_seed(999)
    state = load_checkpoint(path, fresh, opt2, sched2)
    assert state == {"epoch": 1, "step": 3}
    assert torch.equal(torch.rand(3), rng_before)  # RNG restored to the saved state
    _train_steps(fresh, opt2, sched2, 2, seed=2)
    for (k, a), b in zip(ref.state_dict().items(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b), k  # bitwise identical after resume


def test_load_rejects_other_architecture(tmp_path, tiny_model_factory):
    model, opt, sched = _setup(tiny_model_factory)
    path = save_checkpoint(tmp_path, 1, model, None, opt, sched, {})
    other = tiny_model_factory(vocab=40)
    with pytest.raises(R1Error, match="do not match"):
        load_checkpoint(path, other)


def test_rng_state_roundtrip():
    import random

    s = capture_rng_state()
    a = random.random()
    from r1cli.train.checkpoint import restore_rng_state

    restore_rng_state(s)
    assert random.random() == a


class _Tok:
    """Minimal tokenizer stand-in with a ChatML-like template ending turns in <|im_end|> (id 7)."""

    chat_template = "x"
    eos_token_id = 3
    pad_token_id = 0
    all_special_tokens = ["<|im_end|>", "<|endoftext|>"]
    added_tokens_decoder = {}

    def apply_chat_template(self, messages, tokenize=False):
        return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)

    def convert_tokens_to_ids(self, tok):
        return {"<|im_end|>": 7, "<|endoftext|>": 3}[tok]


def test_eos_consistency_adds_end_of_turn(tiny_model_factory):
    model = tiny_model_factory()
    model.generation_config.eos_token_id = 3  # eos is <|endoftext|>, but turns end with <|im_end|>
    model.generation_config.pad_token_id = None
    ids = ensure_eos_consistency(model, _Tok())
    assert ids == [3, 7]
    assert model.generation_config.eos_token_id == [3, 7]
    assert model.generation_config.pad_token_id == 0
    assert ensure_eos_consistency(model, _Tok()) == [3, 7]  # idempotent


class _Rank:
    """A stand-in for a distributed context: ``broadcast_object`` hands out what rank 0 sent."""

    def __init__(self, rank, wire):
        self.rank, self.is_distributed, self.wire = rank, True, wire

    def broadcast_object(self, obj):
        if self.rank == 0:
            self.wire.append(obj)
        return self.wire[-1]


def test_resume_is_chosen_by_rank_0_and_broadcast(tmp_path, tiny_model_factory):
    model, opt, sched = _setup(tiny_model_factory)
    save_checkpoint(tmp_path, 4, model, None, opt, sched, {}, "seed: 1\n")
    wire: list = []
    assert resolve_resume("latest", tmp_path, _Rank(0, wire)).name == "checkpoint-4"
    # rank 1 never looks at its own disk (here: an empty directory) and takes rank 0's answer
    assert resolve_resume("latest", tmp_path / "elsewhere", _Rank(1, wire)).name == "checkpoint-4"
    # an error on rank 0 reaches every rank as the same one-line error (no rank left waiting)
    with pytest.raises(R1Error, match="not a checkpoint"):
        resolve_resume(str(tmp_path / "nowhere"), tmp_path, _Rank(0, wire))
    with pytest.raises(R1Error, match="not a checkpoint"):
        resolve_resume(str(tmp_path / "checkpoint-4"), tmp_path, _Rank(1, wire))
    assert resolve_resume(None, tmp_path, _Rank(0, wire)) is None and resolve_resume(None, tmp_path, _Rank(1, wire)) is None
