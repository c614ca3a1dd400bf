"""GRPO rollout plumbing on fakes: prompt order, templates, reward columns, dynamic sampling."""

from __future__ import annotations

import pytest

from r1cli.errors import R1Error
from r1cli.generation.base import Completion
from r1cli.train.rollout import (
    Group,
    PromptSampler,
    allot,
    collect_rollout,
    curriculum_order,
    fill_template,
    pick_correctness,
    render_prompt_text,
    score_groups,
)


def _records(n):
    return [{"id": f"p{i}", "problem": f"q{i}", "answer": str(i)} for i in range(n)]


def test_curriculum_difficulty_ascending_and_pass_rate_descending():
    recs = [{"id": "a", "difficulty": 3, "pass_rate": 0.1}, {"id": "b", "difficulty": 1, "pass_rate": 0.9},
            {"id": "c", "difficulty": 2, "pass_rate": 0.9}]
    assert curriculum_order(recs, "difficulty") == [1, 2, 0]  # 1 < 2 < 3
    assert curriculum_order(recs, "pass_rate") == [1, 2, 0]  # 0.9 = 0.9 (stable) > 0.1
    assert curriculum_order(recs, "difficulty", "pass_rate") == [0, 1, 2]  # ascending 0.1, 0.9, 0.9


def test_curriculum_missing_column_names_it():
    with pytest.raises(R1Error, match="level"):
        curriculum_order([{"id": "a", "difficulty": 1}, {"id": "b"}], "difficulty", "level")


def test_sampler_epochs_are_permutations_and_state_resumes():
    s = PromptSampler(_records(5), seed=3)
    first = [r["id"] for r in s.take(7)]  # one full epoch + 2 of the next
    assert sorted(first[:5]) == [f"p{i}" for i in range(5)]
    state = s.state_dict()
    assert state == {"epoch": 1, "pos": 2}
    rest = [r["id"] for r in s.take(4)]
    again = PromptSampler(_records(5), seed=3)
    again.load_state_dict(state)
    assert [r["id"] for r in again.take(4)] == rest


def test_sampler_curriculum_order_is_kept_every_epoch():
    s = PromptSampler(_records(3), order=[2, 0, 1])
    assert [r["id"] for r in s.take(6)] == ["p2", "p0", "p1", "p2", "p0", "p1"]


def test_sampler_unshuffled_is_file_order():
    s = PromptSampler(_records(3), shuffle=False)
    assert [r["id"] for r in s.take(4)] == ["p0", "p1", "p2", "p0"]


def test_template_fills_columns_and_names_missing_ones():
    assert fill_template("Use {numbers} to make {target}.", {"numbers": [1, 2], "target": 3}) == "Use [1, 2] to make 3."
    with pytest.raises(R1Error, match="target"):
        fill_template("{target}", {"id": "x", "problem": "p"})


def test_render_raw_template_is_verbatim():
    text = render_prompt_text({"problem": "2+2?"}, template="User: {problem}. Assistant:", chat=False)
    assert text == "User: 2+2?. Assistant:"


class _Tok:
    chat_template = "x"

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<assistant>"


def test_render_chat_uses_template_and_system_prompt():
    text = render_prompt_text({"problem": "2+2?"}, template="{problem}", chat=True, tokenizer=_Tok(),
                              system_prompt="S", prefill_think=True)
    assert text == "<system>S<user>2+2?<assistant><think>\n"


def _group(rid, texts, answer="1", finish="stop"):
    comps = [Completion(text=t, token_ids=tuple(range(len(t))), finish_reason=finish) for t in texts]
    return Group({"id": rid, "problem": "q", "answer": answer}, "prompt", [1, 2], comps)


def test_score_groups_passes_aligned_columns_and_sets_correctness():
    seen = {}

    def scorer(texts, columns):
        seen.update(columns)
        acc = [1.0 if t == columns["answer"][i] else 0.0 for i, t in enumerate(texts)]
        fmt = [0.5] * len(texts)
        return [a + f for a, f in zip(acc, fmt, strict=True)], {"accuracy": acc, "format": fmt}

    groups = [_group("a", ["1", "2"], answer="1"), _group("b", ["3", "3"], answer="3")]
    score_groups(groups, scorer, "accuracy")
    assert seen["answer"] == ["1", "1", "3", "3"]  # each record column repeated G = 2 times
    assert seen["id"] == ["a", "a", "b", "b"]
    assert seen["completion_ids"] == [[0], [0], [0], [0]]  # len("1") = 1 token each
    assert groups[0].rewards == [1.5, 0.5] and groups[1].rewards == [1.5, 1.5]
    assert groups[0].correct == [True, False]
    assert groups[0].components["format"] == [0.5, 0.5]


def test_correct_falls_back_to_total_reward_and_none_is_wrong():
    groups = [_group("a", ["x", "y", "z"])]
    score_groups(groups, lambda t, c: ([1.0, 0.0, None], {}), None)
    assert groups[0].correct == [True, False, False]


def test_pick_correctness():
    assert pick_correctness(["format", "acc"]) == "acc"
    assert pick_correctness(["format", "countdown"]) == "countdown"
    assert pick_correctness(["format"]) is None
    assert pick_correctness(["format", "acc"], "format") == "format"


def test_group_varies():
    g = _group("a", ["a", "b"])
    g.rewards, g.correct = [1.0, 1.0], [True, True]
    assert not g.varies() and not g.varies("accuracy")
    g.rewards, g.correct = [1.0, 0.5], [True, True]
    assert g.varies() and not g.varies("accuracy")
    g.rewards = [1.0, None]
    assert not g.varies()  # one judged value cannot vary


def _fake_make_groups(signal_ids):
    """Groups whose rewards vary only for records in ``signal_ids``."""
    calls = []

    def make(records, rnd):
        calls.append([r["id"] for r in records])
        out = []
        for r in records:
            g = _group(r["id"], ["a", "b"])
            g.rewards = [1.0, 0.0] if r["id"] in signal_ids else [0.0, 0.0]
            g.correct = [v > 0 for v in g.rewards]
            out.append(g)
        return out

    return make, calls


def test_collect_without_dynamic_sampling_takes_one_batch():
    make, calls = _fake_make_groups(set())
    batch = collect_rollout(PromptSampler(_records(10), shuffle=False), make, prompts_per_step=4, step=0)
    assert [g.record["id"] for g in batch.groups] == ["p0", "p1", "p2", "p3"]
    assert batch.rounds == 1 and batch.zero_std_groups == 4 and batch.dropped_groups == 0


def test_collect_shards_prompts_by_rank():
    make, calls = _fake_make_groups(set())
    batch = collect_rollout(PromptSampler(_records(10), shuffle=False), make, prompts_per_step=4, step=0,
                            rank=1, world_size=2)
    assert [g.record["id"] for g in batch.groups] == ["p1", "p3"]  # records[1::2] of p0..p3


def test_dynamic_sampling_drops_flat_groups_and_refills():
    # signal in p1, p3, p4, p6, p7: round 1 (p0..p3) keeps p1, p3; round 2 (p4..p7) adds p4, p6, p7 -> 5 >= 3
    make, calls = _fake_make_groups({"p1", "p3", "p4", "p6", "p7"})
    batch = collect_rollout(PromptSampler(_records(20), shuffle=False), make, prompts_per_step=3, step=0,
                            dynamic_sampling=True, prompts_per_round=4)
    assert calls == [["p0", "p1", "p2", "p3"], ["p4", "p5", "p6", "p7"]]
    assert [g.record["id"] for g in batch.groups] == ["p1", "p3", "p4"]  # cut to prompts_per_step
    assert batch.rounds == 2 and batch.generated_groups == 8 and batch.dropped_groups == 3


def test_dynamic_sampling_is_bounded_and_warns():
    make, calls = _fake_make_groups({"p0"})
    warnings = []
    batch = collect_rollout(PromptSampler(_records(20), shuffle=False), make, prompts_per_step=4, step=7,
                            dynamic_sampling=True, max_rounds=3, warn=warnings.append)
    assert len(calls) == 3 and batch.rounds == 3
    assert [g.record["id"] for g in batch.groups] == ["p0"]
    assert "kept 1 of 4" in warnings[0] and "step 7" in warnings[0]


def test_dynamic_sampling_accuracy_metric_ignores_partial_credit():
    def make(records, rnd):
        out = []
        for r in records:
            g = _group(r["id"], ["a", "b"])
            g.rewards, g.correct = [1.0, 0.1], [False, False]  # rewards vary, correctness does not
            out.append(g)
        return out

    batch = collect_rollout(PromptSampler(_records(8), shuffle=False), make, prompts_per_step=2, step=0,
                            dynamic_sampling=True, metric="accuracy", max_rounds=2)
    assert batch.groups == [] and batch.dropped_groups == 4


def test_allot_fills_ranks_in_order():
    assert allot([3, 5], 6) == [3, 3]
    assert allot([3, 5], 10) == [3, 5]
    assert allot([0, 2, 2], 3) == [0, 2, 1]
