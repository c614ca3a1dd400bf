"""Config of `r1 curate`: inputs, the steps in order, and each step's parameters."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from r1cli.config.core import Section, check_rewards
from r1cli.config.sections import GenerationSection, ModelSection
from r1cli.errors import R1Error


class CurateInput(Section):
    """One input dataset (a file or hub id), its share of rows kept and its field mapping."""

    path: str
    weight: float = Field(default=1.0, gt=0, le=1)
    name: str | None = None
    problem_field: str = "problem"
    answer_field: str | None = "answer"
    id_field: str = "id"
    field_map: dict[str, str] = Field(default_factory=dict)
    split: str = "train"
    limit: int | None = Field(default=None, gt=0)


class CurateConfig(Section):
    output_dir: str = "runs/curate"
    seed: int = 0
    inputs: list[CurateInput] = Field(default_factory=list)
    # Step names in the order they run: normalize, dedup, decontam, verify, difficulty, length, pairs.
    steps: list[str] = Field(default_factory=lambda: ["normalize", "dedup", "decontam"])
    # Parameters per step, e.g. params.dedup.threshold=0.85 (checked against each step's signature).
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Tokenizer (HF dir or hub id) for the length step and token-length histograms.
    tokenizer: str | None = None
    # The model and engine that generate k samples per problem for the difficulty step.
    model: ModelSection = ModelSection()
    generation: GenerationSection = GenerationSection(n=8, max_new_tokens=4096)

    @model_validator(mode="after")
    def _steps(self) -> CurateConfig:
        """Step names, each step's parameter names and the rewards they name, checked when the config is
        built (so --print-config already says "did you mean")."""
        from r1cli.curate.pipeline import STEPS, StepSpec, check_step

        for name in self.steps:
            key = f"params.{name}" if name in STEPS else "steps"
            try:
                check_step(StepSpec(name, dict(self.params.get(name, {}))))
            except R1Error as e:
                raise R1Error(f"config key '{key}': {str(e).removeprefix('curate: ')}") from None
        unknown = sorted(set(self.params) - set(self.steps))
        if unknown:
            raise R1Error(f"config key 'params.{unknown[0]}': '{unknown[0]}' is not among the steps "
                          f"({', '.join(self.steps)}); add it to --steps or drop its params")
        for name in ("verify", "difficulty", "pairs"):
            reward = self.params.get(name, {}).get("reward")
            if isinstance(reward, str):
                check_rewards(f"params.{name}.reward", [reward],
                              {reward: self.params[name].get("reward_params") or {}})
        return self

