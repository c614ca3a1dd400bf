"""Config of `r1 eval`: which benchmarks, which model, how to sample (protocol defaults per benchmark)."""

from __future__ import annotations

from pydantic import Field

from r1cli.config.core import Section
from r1cli.config.sections import GenerationSection, ModelSection


class EvalDataSection(Section):
    """Where benchmark problems come from when not from the registry's default source.

    ``path`` (``--data``) works with one benchmark at a time. Field names default to the canonical
    ``id``/``problem``/``answer`` for local files (or the hub's names when those are absent).
    """

    path: str | None = None
    split: str | None = None
    id_field: str | None = None
    problem_field: str | None = None
    answer_field: str | None = None
    prompt_template: str | None = None  # with {problem}; None = the benchmark's own prompt (R1 protocol)
    limit: int | None = Field(default=None, gt=0)
    choice_seed: int = 0  # multiple choice: option order = f(choice_seed, problem id)


class EvalGenerationSection(GenerationSection):
    """Sampling; ``None`` for n / temperature / top_p / max_new_tokens = each benchmark's protocol default."""

    n: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_new_tokens: int | None = Field(default=None, gt=0)


class GradingSection(Section):
    """math-verify grading: a hard wall clock per item, in a process pool."""

    timeout_s: float = Field(default=5.0, gt=0)
    workers: int | None = Field(default=None, gt=0)  # None = every core


class LmEvalSection(Section):
    """Options of the lm-evaluation-harness bridge (benchmarks named ``lm-eval:TASK[,TASK...]``)."""

    include_path: str | None = None  # folder of custom task YAMLs
    batch_size: int = Field(default=1, gt=0)
    num_fewshot: int | None = Field(default=None, ge=0)
    apply_chat_template: bool = True
    device: str = "cpu"


class EvalConfig(Section):
    """Top-level config of `r1 eval`."""

    benchmarks: list[str] = Field(default_factory=list)
    output_dir: str = "runs/eval"
    samples: str | None = None  # re-grade this samples.jsonl instead of generating
    model: ModelSection = ModelSection()
    data: EvalDataSection = EvalDataSection()
    generation: EvalGenerationSection = EvalGenerationSection()
    grading: GradingSection = GradingSection()
    lm_eval: LmEvalSection = LmEvalSection()
