"""The reward registry: name -> factory, with parameter checking and string coercion.

A factory takes keyword parameters and returns ``fn(completions, **columns) -> list[float | None]``.
Parameters given as strings (from ``--set`` or a YAML preset written loosely) are converted to the
type of the factory's default (``"0.5"`` -> 0.5, ``"true"`` -> True); unknown parameters are an
:class:`~r1cli.errors.R1Error` naming the parameter and the valid ones.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from r1cli.errors import R1Error, did_you_mean, one_of
from r1cli.rewards.accuracy import make_accuracy_reward
from r1cli.rewards.code import make_code_reward
from r1cli.rewards.countdown import make_countdown_reward
from r1cli.rewards.format import (
    make_code_format_reward,
    make_format_reward,
    make_reasoning_steps_reward,
    make_tag_count_reward,
)
from r1cli.rewards.language import check_language_params, make_language_reward
from r1cli.rewards.length import (
    make_cosine_reward,
    make_length_reward,
    make_overlong_reward,
    make_repetition_reward,
)

RewardFn = Callable[..., list]


class LazyFactory:
    """A factory imported on first use (``module:attr``); its signature is the real one."""

    def __init__(self, module: str, attr: str):
        self.module, self.attr = module, attr

    def load(self) -> Callable[..., RewardFn]:
        try:
            return getattr(importlib.import_module(self.module), self.attr)
        except (ImportError, AttributeError) as exc:
            raise R1Error(
                f"reward factory {self.module}.{self.attr} is not available in this install ({exc})"
            ) from None

    @property
    def __signature__(self) -> inspect.Signature:
        return inspect.signature(self.load())

    def __call__(self, **params: Any) -> RewardFn:
        return self.load()(**params)

    def __repr__(self) -> str:
        return f"LazyFactory({self.module}:{self.attr})"


ALIASES = {"acc": "accuracy"}

REWARDS: dict[str, Callable[..., RewardFn]] = {
    "accuracy": make_accuracy_reward,
    "format": make_format_reward,
    "code_format": make_code_format_reward,
    "tag_count": make_tag_count_reward,
    "reasoning_steps": make_reasoning_steps_reward,
    "length": make_length_reward,
    "cosine": make_cosine_reward,
    "repetition": make_repetition_reward,
    "overlong": make_overlong_reward,
    "countdown": make_countdown_reward,
    "code": make_code_reward,
    "language": make_language_reward,
    "judge": LazyFactory("r1cli.rewards.judge", "make_judge_reward"),
}
REWARDS.update({alias: REWARDS[target] for alias, target in ALIASES.items()})

# Value checks that run at config time without building the reward (a bad ``lang`` fails --print-config).
VALUE_CHECKS: dict[str, Callable[..., None]] = {"language": check_language_params}


def canonical_name(name: str) -> str:
    """``"acc"`` -> ``"accuracy"``, ``"tag-count"`` -> ``"tag_count"``; R1Error for unknown names."""
    key = str(name).strip().lower().replace("-", "_")
    if key not in REWARDS:
        raise R1Error(f"unknown reward '{name}'{did_you_mean(key, REWARDS)}; available: {one_of(REWARDS)}")
    return ALIASES.get(key, key)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _coerce(reward: str, param: inspect.Parameter, value: Any) -> Any:
    """Convert a string ``value`` to the type of ``param``'s default (or its annotation)."""
    if not isinstance(value, str):
        return value
    default, annotation = param.default, str(param.annotation)
    if default is None and value.strip().lower() in {"none", "null"}:
        return None
    if isinstance(default, bool) or annotation == "bool":
        low = value.strip().lower()
        if low in _TRUE | _FALSE:
            return low in _TRUE
        raise R1Error(f"reward '{reward}': parameter '{param.name}' must be true or false, got '{value}'")
    for kind in (int, float):
        if type(default) is kind or annotation.split(" |")[0] == kind.__name__:
            try:
                return kind(value)
            except ValueError:
                raise R1Error(
                    f"reward '{reward}': parameter '{param.name}' must be {kind.__name__}, got '{value}'"
                ) from None
    return value


def _checked_params(canonical: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` checked against the factory's signature and coerced to its types."""
    signature = inspect.signature(REWARDS[canonical])
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    valid = {k: p for k, p in signature.parameters.items() if p.kind is not inspect.Parameter.VAR_KEYWORD}
    checked: dict[str, Any] = {}
    for key, value in params.items():
        if key not in valid:
            if accepts_any:
                checked[key] = value
                continue
            choices = one_of(valid) if valid else "it takes no parameters"
            raise R1Error(
                f"reward '{canonical}' has no parameter '{key}'{did_you_mean(key, valid)}; {choices}"
            )
        checked[key] = _coerce(canonical, valid[key], value)
    return checked


def check_reward(name: str, params: dict[str, Any] | None = None) -> str:
    """Validate a reward name and its parameters without building it (config time); the canonical name."""
    canonical = canonical_name(name)
    checked = _checked_params(canonical, dict(params or {}))
    if canonical in VALUE_CHECKS:
        VALUE_CHECKS[canonical](**checked)
    return canonical


def get_reward(name: str, **params: Any) -> RewardFn:
    """Build the reward ``name`` (or alias) with ``params``.

    Returns ``fn(completions: list[str], **columns) -> list[float | None]`` where ``None`` means
    "cannot judge this sample". Unknown names and parameters raise R1Error with the valid choices.
    """
    canonical = canonical_name(name)
    return REWARDS[canonical](**_checked_params(canonical, params))


def reward_parameters(name: str) -> dict[str, Any]:
    """``{param: default}`` of a reward (``inspect.Parameter.empty`` when required), for help texts."""
    signature = inspect.signature(REWARDS[canonical_name(name)])
    return {
        k: p.default for k, p in signature.parameters.items() if p.kind is not inspect.Parameter.VAR_KEYWORD
    }
