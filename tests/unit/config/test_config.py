"""Config precedence (defaults < preset < file < --set < flags) and every error path."""

from __future__ import annotations

import pytest
from pydantic import Field, ValidationError

from r1cli.config.core import (
    Section,
    all_keys,
    find_preset,
    list_presets,
    parse_set,
    resolve_config,
    to_yaml,
    write_config,
)
from r1cli.errors import R1Error


class Train(Section):
    learning_rate: float = 1e-5
    epochs: int = Field(default=3, gt=0)
    scheduler: str = "cosine"


class Cfg(Section):
    output_dir: str = "runs/x"
    train: Train = Train()


@pytest.fixture
def preset_file(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("# a preset\ntrain:\n  learning_rate: 2.0e-5\n  epochs: 5\n  scheduler: linear\n")
    return p


def test_defaults_only():
    cfg = resolve_config(Cfg, command="t")
    assert cfg.train.learning_rate == 1e-5 and cfg.train.epochs == 3 and cfg.output_dir == "runs/x"


def test_precedence_each_layer_beats_the_one_below(preset_file, tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("train:\n  epochs: 7\n  scheduler: constant\n")
    cfg = resolve_config(
        Cfg, command="t", preset=str(preset_file), config_file=str(cfg_file),
        sets=["train.scheduler=cosine_min", "output_dir=out"], flags={"output_dir": "flag-out", "train.epochs": None},
    )
    assert cfg.train.learning_rate == 2e-5  # preset (no later layer sets it)
    assert cfg.train.epochs == 7  # file beats preset; a None flag does not override
    assert cfg.train.scheduler == "cosine_min"  # --set beats file
    assert cfg.output_dir == "flag-out"  # typed flag beats --set


def test_set_value_parsed_as_yaml():
    assert parse_set("train.learning_rate=3e-4") == (["train", "learning_rate"], 3e-4)
    assert parse_set("a.b=[1, 2]") == (["a", "b"], [1, 2])
    assert parse_set("a=true") == (["a"], True)
    assert parse_set("a=hello=world") == (["a"], "hello=world")


@pytest.mark.parametrize("expr", ["novalue", "=3", "a..b=1"])
def test_bad_set_syntax(expr):
    with pytest.raises(R1Error, match="--set"):
        parse_set(expr)


def test_misspelt_set_key_did_you_mean():
    with pytest.raises(R1Error) as e:
        resolve_config(Cfg, command="t", sets=["train.lerning_rate=1e-4"])
    msg = str(e.value)
    assert "train.lerning_rate" in msg and "did you mean 'train.learning_rate'" in msg and "--set" in msg


def test_unknown_key_in_preset_names_preset(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("train:\n  epoch: 2\n")
    with pytest.raises(R1Error) as e:
        resolve_config(Cfg, command="t", preset=str(p))
    assert "train.epoch" in str(e.value) and "preset" in str(e.value) and "train.epochs" in str(e.value)


def test_unknown_top_level_key_in_file(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("outptu_dir: x\n")
    with pytest.raises(R1Error, match=r"unknown config key 'outptu_dir' in config file .*did you mean 'output_dir'"):
        resolve_config(Cfg, command="t", config_file=str(p))


def test_type_error_names_key_path_and_expected_type():
    with pytest.raises(R1Error) as e:
        resolve_config(Cfg, command="t", sets=["train.epochs=many"])
    assert "train.epochs" in str(e.value) and "expected an integer" in str(e.value)


def test_constraint_error_names_key():
    with pytest.raises(R1Error, match="train.epochs"):
        resolve_config(Cfg, command="t", sets=["train.epochs=0"])


def test_invalid_yaml_file_names_line(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("train:\n  epochs: [1,\n")
    with pytest.raises(R1Error, match=r"c\.yaml:\d+: not valid YAML"):
        resolve_config(Cfg, command="t", config_file=str(p))


def test_missing_config_file():
    with pytest.raises(R1Error, match="file not found"):
        resolve_config(Cfg, command="t", config_file="/nonexistent/c.yaml")


def test_unknown_preset_lists_presets():
    with pytest.raises(R1Error) as e:
        find_preset("no-such-preset", "sft")
    assert "unknown preset 'no-such-preset'" in str(e.value) and "presets:" in str(e.value)


def test_all_keys_and_yaml_roundtrip(tmp_path):
    assert all_keys(Cfg) == ["output_dir", "train", "train.learning_rate", "train.epochs", "train.scheduler"]
    cfg = resolve_config(Cfg, command="t", sets=["train.epochs=4"])
    path = write_config(cfg, tmp_path / "out")
    again = resolve_config(Cfg, command="t", config_file=str(path))
    assert again == cfg and "epochs: 4" in to_yaml(cfg)


def test_config_is_frozen():
    cfg = resolve_config(Cfg, command="t")
    with pytest.raises(ValidationError):
        cfg.output_dir = "y"  # type: ignore[misc]


def test_shipped_presets_are_named_command_slash_name():
    for name in list_presets():
        assert name.count("/") == 1
