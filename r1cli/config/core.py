"""Config resolution: defaults < --preset < --config FILE < --set a.b=value < typed flags.

Every layer is a nested dict; each is checked against the schema before merging so an unknown key is
reported with the layer it came from and the closest valid key. The merged dict is then validated by
pydantic (``extra="forbid"``), and a type error names the key path and the expected type.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from r1cli.errors import R1Error, did_you_mean

PRESET_DIR = Path(__file__).resolve().parent.parent / "presets"


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-5`` / ``3E+4`` as floats (YAML 1.1 wants ``1.0e-5``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."),
)


def yaml_load(text: str):
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


class Section(BaseModel):
    """Base of every config section: unknown keys are errors; a resolved config is frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


S = TypeVar("S", bound=Section)


# ------------------------------------------------------------------------------------------ presets


def list_presets(command: str | None = None) -> list[str]:
    """Names like ``sft/open-r1`` of every shipped preset (of one command when given)."""
    names = []
    for p in sorted(PRESET_DIR.glob("*/*.yaml")):
        cmd = p.parent.name
        if command is None or cmd == command:
            names.append(f"{cmd}/{p.stem}")
    return names


def find_preset(name: str, command: str | None = None) -> Path:
    """Resolve a preset given as ``open-r1`` (for ``command``), ``sft/open-r1``, or a YAML path."""
    p = Path(name)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        return p
    candidates = []
    if "/" in name:
        candidates.append(PRESET_DIR / f"{name}.yaml")
    elif command:
        candidates.append(PRESET_DIR / command / f"{name}.yaml")
    else:
        candidates.extend(PRESET_DIR.glob(f"*/{name}.yaml"))
    found = [c for c in candidates if c.is_file()]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        names = ", ".join(f"{c.parent.name}/{c.stem}" for c in sorted(found))
        raise R1Error(f"preset '{name}' is ambiguous: {names}; name one of them")
    valid = [n.split("/", 1)[1] for n in list_presets(command)] if command else list_presets()
    shown = ", ".join(valid) if valid else "(none yet)"
    where = f" for 'r1 {command}'" if command else ""
    raise R1Error(f"unknown preset '{name}'{where}{did_you_mean(name, valid)}; presets: {shown}")


def load_yaml_file(path: str | os.PathLike, what: str = "config file") -> dict:
    p = Path(path)
    if not p.is_file():
        raise R1Error(f"{what} {p}: file not found")
    from r1cli.data.encoding import decode_utf8

    text = decode_utf8(p, p.read_bytes())
    try:
        data = yaml_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        if mark is not None:
            loc = f":{mark.line + 1}"
        elif isinstance(getattr(e, "position", None), int):  # yaml.reader.ReaderError: a bad character
            loc = f":{text.count(chr(10), 0, e.position) + 1}"
        else:
            loc = ""
        what = (getattr(e, "problem", None) or getattr(e, "reason", None) or str(e)).splitlines()[0]
        raise R1Error(f"{p}{loc}: not valid YAML ({what})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise R1Error(f"{p}: expected a mapping of config keys at the top level")
    return data


# ------------------------------------------------------------------------------------- --set parsing


def parse_set(expr: str) -> tuple[list[str], Any]:
    """``"train.lr=1e-5"`` -> (["train", "lr"], 1e-05). The value is parsed as YAML."""
    if "=" not in expr:
        raise R1Error(f"--set '{expr}': expected KEY=VALUE, e.g. --set train.learning_rate=1e-5")
    key, raw = expr.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise R1Error(f"--set '{expr}': empty key; expected KEY=VALUE with a dotted key")
    try:
        value = yaml_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def nest(path: list[str], value: Any) -> dict:
    out: Any = value
    for part in reversed(path):
        out = {part: out}
    return out


def deep_merge(base: dict, over: dict) -> dict:
    """Merge ``over`` into a copy of ``base``; nested dicts merge, everything else replaces."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


# ------------------------------------------------------------------------------------ key checking


def _section_type(annotation: Any) -> type[Section] | None:
    """The Section class inside an annotation like ``Section`` or ``Section | None``."""
    if isinstance(annotation, type) and issubclass(annotation, Section):
        return annotation
    if get_origin(annotation) is not None:
        for arg in get_args(annotation):
            t = _section_type(arg)
            if t is not None:
                return t
    return None


def all_keys(schema: type[Section], prefix: str = "") -> list[str]:
    """Every dotted key path the schema accepts (sections and leaves)."""
    keys = []
    for name, field in schema.model_fields.items():
        path = f"{prefix}{name}"
        keys.append(path)
        sub = _section_type(field.annotation)
        if sub is not None:
            keys.extend(all_keys(sub, path + "."))
    return keys


def check_keys(schema: type[Section], data: dict, source: str, prefix: str = "") -> None:
    """Raise R1Error for the first key of ``data`` the schema does not know, with a suggestion."""
    for key, value in data.items():
        path = f"{prefix}{key}"
        field = schema.model_fields.get(key)
        if field is None:
            full_valid = [f"{prefix}{k}" for k in all_keys(schema)]
            hint = did_you_mean(path, full_valid) or did_you_mean(key, list(schema.model_fields))
            if not hint:
                hint = f"; valid keys here: {', '.join(f'{prefix}{k}' for k in schema.model_fields)}"
            raise R1Error(f"unknown config key '{path}' in {source}{hint}")
        sub = _section_type(field.annotation)
        if sub is not None and isinstance(value, dict):
            check_keys(sub, value, source, path + ".")


# -------------------------------------------------------------------------------------- validation


_TYPE_WORDS = {
    "int_parsing": "an integer", "int_type": "an integer", "int_from_float": "an integer",
    "float_parsing": "a number", "float_type": "a number", "bool_parsing": "true or false",
    "bool_type": "true or false", "string_type": "a string", "list_type": "a list",
    "dict_type": "a mapping", "model_type": "a mapping", "literal_error": None,
    "greater_than": None, "greater_than_equal": None, "less_than": None, "less_than_equal": None,
}


def check_rewards(key: str, names: list[str], params: dict[str, dict[str, Any]]) -> None:
    """Config-time check of reward names and their parameters (registry look-up, nothing is built):
    an unknown name or parameter is one line naming the config key, with "did you mean"."""
    from r1cli.rewards.registry import canonical_name, check_reward

    by_name = {}
    for name in names:
        try:
            by_name[canonical_name(name)] = name
        except R1Error as e:
            raise R1Error(f"config key '{key}': {e}") from None
    for name, values in params.items():
        try:
            check_reward(name, values)
        except R1Error as e:
            raise R1Error(f"config key '{key.rsplit('.', 1)[0]}.params.{name}': {e}") from None


def _format_validation_error(err: ValidationError, source: str) -> str:
    first = err.errors()[0]
    path = ".".join(str(p) for p in first["loc"])
    kind = first["type"]
    value = first.get("input")
    expected = _TYPE_WORDS.get(kind)
    if expected:
        return f"config key '{path}' ({source}): expected {expected}, got {value!r}"
    msg = first["msg"]
    if kind == "missing":
        return f"config key '{path}' is required ({source}); set it with a flag or --set {path}=..."
    return f"config key '{path}' ({source}): {msg}, got {value!r}"


def validate(schema: type[S], data: dict, source: str = "config") -> S:
    check_keys(schema, data, source)
    try:
        return schema.model_validate(data)
    except ValidationError as e:
        raise R1Error(_format_validation_error(e, source)) from None


def resolve_config(
    schema: type[S],
    *,
    command: str,
    preset: str | None = None,
    config_file: str | None = None,
    sets: list[str] | None = None,
    flags: dict[str, Any] | None = None,
) -> S:
    """Merge the layers in precedence order and validate the result.

    ``flags`` maps dotted key paths to values of typed CLI flags; ``None`` values (flag not given)
    are skipped so they do not override lower layers.
    """
    merged: dict = {}
    layers: list[tuple[str, dict]] = []
    if preset:
        path = find_preset(preset, command)
        layers.append((f"preset {path.name if path.is_relative_to(PRESET_DIR) else path}",
                       load_yaml_file(path, "preset")))
    if config_file:
        layers.append((f"config file {config_file}", load_yaml_file(config_file)))
    for expr in sets or []:
        keys, value = parse_set(expr)
        layers.append((f"--set {expr}", nest(keys, value)))
    flag_layer: dict = {}
    for dotted, value in (flags or {}).items():
        if value is not None:
            flag_layer = deep_merge(flag_layer, nest(dotted.split("."), value))
    if flag_layer:
        layers.append(("command-line flags", flag_layer))
    for source, layer in layers:
        check_keys(schema, layer, source)
        merged = deep_merge(merged, layer)
    return validate(schema, merged, "merged config")


def to_yaml(cfg: BaseModel) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def write_config(cfg: BaseModel, output_dir: str | os.PathLike) -> Path:
    """Write the resolved config to ``<output_dir>/config.yaml`` (atomically)."""
    from r1cli.data.io import atomic_write_text

    path = Path(output_dir) / "config.yaml"
    atomic_write_text(path, to_yaml(cfg))
    return path
