"""Pipeline plans: wiring resolved and validated before anything runs; stage keys and staleness."""

from __future__ import annotations

import pytest

from r1cli.config.core import list_presets, resolve_config
from r1cli.config.pipeline import PipelineConfig
from r1cli.errors import R1Error
from r1cli.pipeline.spec import build_plan


def plan_of(stages: dict, tmp_path, **extra):
    return build_plan(resolve_config(PipelineConfig, command="pipeline",
                                     flags={"output_dir": str(tmp_path / "p"), "stages": stages, **extra}))


CHAIN = {
    "data": {"kind": "data", "task": "arith", "n": 8, "held_out": 0},
    "base": {"kind": "init-model"},
    "cold": {"kind": "sft", "preset": "tiny", "model": "${stages.base.output}",
             "data": "${stages.data.output}/sft.jsonl", "train": {"max_steps": 3}},
    "rl": {"kind": "grpo", "preset": "tiny", "model": "${stages.cold.output}",
           "data": "${stages.data.dir}/problems.jsonl"},
}


def test_wiring_shorthands_presets_and_outputs(tmp_path):
    plan = plan_of(CHAIN, tmp_path)
    out = tmp_path / "p"
    cold, rl = plan.get("cold"), plan.get("rl")
    assert cold.config.model.path == str(out / "base") and cold.config.data.path == str(out / "data" / "sft.jsonl")
    assert cold.config.train.max_steps == 3 and cold.config.train.learning_rate == 3e-3  # stage key over the sft/tiny preset
    assert rl.config.model.path == str(out / "cold" / "final")  # a trainer's output is its final/ model
    assert cold.config.output_dir == str(out / "cold") and cold.config.resume == "latest"
    assert cold.deps == ["base", "data"] and rl.deps == ["cold", "data"]
    assert [s.report for s in plan.stages] == [False, True, True, True]  # model outputs are evaluated


def test_curate_data_shorthand_is_an_input_list(tmp_path):
    plan = plan_of({"data": CHAIN["data"], "clean": {"kind": "curate", "data": "${stages.data.output}/problems.jsonl",
                                                     "steps": ["normalize"]}}, tmp_path)
    assert [i.path for i in plan.get("clean").config.inputs] == [str(tmp_path / "p" / "data" / "problems.jsonl")]


@pytest.mark.parametrize("stages, message", [
    ({"a": {"kind": "sfft"}}, "stages.a.kind: unknown stage kind 'sfft' (did you mean 'sft'?)"),
    ({"a": {"task": "arith"}}, "stages.a.kind is missing"),
    ({"a": {"kind": "sft", "model": "${stages.nope.output}"}}, "stages.a.model: '${stages.nope.output}' names no stage"),
    ({"a": {"kind": "sft", "model": "${stages.a.output}"}}, "is the stage's own output (a cycle)"),
    ({"a": {"kind": "sft", "model": "${stages.b.output}"}, "b": {"kind": "init-model"}},
     "stages.a.model: '${stages.b.output}': stage 'b' comes later"),
    ({"b": {"kind": "init-model"}, "a": {"kind": "sft", "model": "${stages.b.outptu}"}},
     "a stage has 'output' and 'dir', not 'outptu' (did you mean 'output'?)"),
    ({"a": {"kind": "sft", "train": {"max_stepz": 3}}},
     "unknown config key 'stages.a.train.max_stepz' in pipeline config (stages.a) (did you mean 'stages.a.train.max_steps'?)"),
    ({"a": {"kind": "sft", "train": {"max_steps": "many"}}},
     "config key 'train.max_steps' (stages.a): expected an integer, got 'many'"),
    ({"a": {"kind": "grpo", "rewards": {"names": ["acc", "formatt"]}}},
     "stages.a: config key 'rewards.names': unknown reward 'formatt' (did you mean 'format'?)"),
    ({"a": {"kind": "sft", "output_dir": "x"}}, "stages.a.output_dir: a stage writes into"),
    ({"a": {"kind": "sft", "preset": "tinyy"}}, "unknown preset 'tinyy' for 'r1 sft' (did you mean 'tiny'?)"),
    ({"a b": {"kind": "sft"}}, "stages.a b: a stage name is letters"),
    ({"a": {"kind": "init-model", "report": "yes"}}, "stages.a.report: expected true or false"),
    ({}, "the pipeline has no stages"),
])
def test_wiring_mistakes_are_one_line_naming_stage_and_key(stages, message, tmp_path):
    with pytest.raises(R1Error) as e:
        plan_of(stages, tmp_path)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_keys_change_with_config_and_propagate_downstream_only(tmp_path):
    stages = {**CHAIN, "side": {"kind": "init-model", "seed": 1}}
    base = {s.name: s.key for s in plan_of(stages, tmp_path).stages}
    again = {s.name: s.key for s in plan_of(stages, tmp_path).stages}
    assert base == again  # deterministic
    changed = {**stages, "cold": {**CHAIN["cold"], "train": {"max_steps": 4}}}
    keys = {s.name: s.key for s in plan_of(changed, tmp_path).stages}
    assert [n for n in keys if keys[n] != base[n]] == ["cold", "rl"]  # rl reads cold; side reads nothing
    resumed = {**stages, "cold": {**CHAIN["cold"], "resume": None}}  # how a stage runs is not what it computes
    assert {s.name: s.key for s in plan_of(resumed, tmp_path).stages} == base


def test_a_file_read_from_outside_the_pipeline_is_part_of_the_key(tmp_path):
    data = tmp_path / "sft.jsonl"
    data.write_text('{"id": "a", "messages": []}\n')
    stages = {"base": {"kind": "init-model"}, "cold": {"kind": "sft", "model": "${stages.base.output}", "data": str(data)}}
    first = plan_of(stages, tmp_path).get("cold")
    assert list(first.files) == [str(data)]
    data.write_text('{"id": "b", "messages": []}\n')
    assert plan_of(stages, tmp_path).get("cold").key != first.key


@pytest.mark.parametrize("name", [n for n in list_presets("pipeline")])
def test_every_pipeline_preset_resolves(name, tmp_path):
    cfg = resolve_config(PipelineConfig, command="pipeline", preset=name.split("/", 1)[1],
                         flags={"output_dir": str(tmp_path / "p")})
    plan = build_plan(cfg)
    assert plan.stages and all(s.key for s in plan.stages)
