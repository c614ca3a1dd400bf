"""The stage kinds of ``r1 pipeline``: one registry entry per command (schema, engine, what "output" is).

A stage of kind ``K`` is the command ``r1 K`` with its own config section: the same pydantic schema,
the same presets (``preset: tiny`` in the stage) and the same engine entry point, called in-process.
Adding a kind is one :class:`StageKind` in :data:`KINDS`.

Two kinds only make things the tiny world needs and have small schemas of their own here: ``data``
(``r1 data make``) and ``init-model`` (``r1 init-model``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from r1cli.config.core import Section


class DataStage(Section):
    """``r1 data make TASK``: problems.jsonl, sft.jsonl and held_out.jsonl of a built-in task."""

    output_dir: str = "runs/data"
    task: str = "arith"
    n: int = Field(default=1000, gt=0)
    held_out: int = Field(default=200, ge=0)
    seed: int = 0
    params: dict[str, Any] = Field(default_factory=dict)  # the task's knobs (r1cli.tasks.get_task)


class InitModelStage(Section):
    """``r1 init-model tiny``: the tiny Qwen2 model and its tokenizer."""

    output_dir: str = "runs/tiny-model"
    hidden_size: int = Field(default=128, gt=0)
    num_layers: int = Field(default=3, gt=0)
    num_heads: int = Field(default=4, gt=0)
    num_kv_heads: int = Field(default=2, gt=0)
    intermediate_size: int = Field(default=512, gt=0)
    seed: int = 0


def _schema(module: str, name: str) -> Callable[[], type[Section]]:
    def load() -> type[Section]:
        import importlib

        return getattr(importlib.import_module(module), name)

    return load


def _run_data(cfg: DataStage) -> dict:
    from r1cli.tasks import get_task, write_task_data

    task = get_task(cfg.task, **cfg.params)
    paths = write_task_data(task, cfg.n, cfg.seed, cfg.output_dir, held_out=cfg.held_out)
    return {k: str(v) for k, v in paths.items()}


def _run_init_model(cfg: InitModelStage) -> dict:
    from r1cli.models.tiny import init_tiny

    knobs = cfg.model_dump(exclude={"output_dir"})
    return {"model": str(init_tiny(cfg.output_dir, **knobs))}


def _run_sft(cfg: Any) -> dict:
    from r1cli.train.sft import run_sft

    return run_sft(cfg)


def _run_grpo(cfg: Any) -> dict:
    from r1cli.train.grpo import resolve_rollout_backend, run_grpo

    return run_grpo(resolve_rollout_backend(cfg)) or {}


def _run_dpo(cfg: Any) -> dict:
    from r1cli.train.dpo import run_dpo

    return run_dpo(cfg)


def _run_sample(cfg: Any) -> dict:
    from r1cli.generation.run import check_sample_config, run_sample

    check_sample_config(cfg)
    return run_sample(cfg)


def _run_distill(cfg: Any) -> dict:
    from r1cli.distill.engine import run_distill

    return run_distill(cfg)


def _run_curate(cfg: Any) -> dict:
    from r1cli.curate.run import run_curate_from_config

    return run_curate_from_config(cfg)


def _run_eval(cfg: Any) -> dict:
    from r1cli.eval.runner import check_config, run_eval

    check_config(cfg)
    return {"results": run_eval(cfg)}


@dataclass(frozen=True)
class StageKind:
    """One kind of stage.

    ``shorthands`` map a stage-level string key to the config key it fills (``model: DIR`` is
    ``model.path: DIR``); ``output`` is what ``${stages.NAME.output}`` means, relative to the stage's
    directory ("" for the directory itself, ``final`` for a trained model); ``model_output`` says the
    output is a model the pipeline report evaluates; ``resume`` puts ``resume: latest`` in the config
    (trainers); ``claim_ignore`` and ``compare`` are passed to the output-directory claim as the command
    passes them; ``train`` marks kinds that run under torchrun on SLURM.
    """

    name: str
    schema: Callable[[], type[Section]]
    run: Callable[[Any], dict]
    output: str = ""
    shorthands: dict[str, str] = field(default_factory=dict)
    model_output: bool = False
    resume: bool = False
    claim_ignore: tuple[str, ...] = ()
    compare: bool = True
    train: bool = False
    preset_command: str | None = None  # presets come from r1cli/presets/<this>/ (default: the kind)


_MODEL_DATA = {"model": "model.path", "data": "data.path"}

KINDS: dict[str, StageKind] = {k.name: k for k in (
    StageKind("data", lambda: DataStage, _run_data),
    StageKind("init-model", lambda: InitModelStage, _run_init_model, model_output=True),
    StageKind("sft", _schema("r1cli.config.sft", "SFTConfig"), _run_sft, output="final", shorthands=_MODEL_DATA,
              model_output=True, resume=True, train=True),
    StageKind("grpo", _schema("r1cli.config.grpo", "GRPOConfig"), _run_grpo, output="final",
              shorthands=_MODEL_DATA, model_output=True, resume=True, train=True),
    StageKind("dpo", _schema("r1cli.config.dpo", "DPOConfig"), _run_dpo, output="final",
              shorthands=_MODEL_DATA, model_output=True, resume=True, train=True),
    StageKind("sample", _schema("r1cli.config.sample", "SampleConfig"), _run_sample, shorthands=_MODEL_DATA),
    StageKind("distill", _schema("r1cli.config.distill", "DistillConfig"), _run_distill,
              shorthands={"teacher": "model.path", "model": "model.path", "data": "data.path"},
              claim_ignore=("keep", "filters", "reward", "cost")),
    StageKind("curate", _schema("r1cli.config.curate", "CurateConfig"), _run_curate,
              shorthands={"data": "inputs", "model": "model.path"}, compare=False),
    StageKind("eval", _schema("r1cli.config.eval", "EvalConfig"), _run_eval, shorthands=_MODEL_DATA,
              claim_ignore=("benchmarks",)),
)}


def stage_output(kind: StageKind, stage_dir: Path) -> Path:
    """The path ``${stages.NAME.output}`` stands for."""
    return stage_dir / kind.output if kind.output else stage_dir
