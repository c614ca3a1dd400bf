"""Config of `r1 distill`: a teacher writes k traces per problem; verified ones become SFT data.

Sections: ``model`` (the teacher: ``model.path`` is ``--teacher``), ``data`` (problems and the prompt),
``generation`` (backend and the R1 sampling protocol: T 0.6, top-p 0.95, k = ``generation.n``),
``reward`` (which reward verifies a trace), ``filters`` (format, length and language checks),
``cost`` (prices for the stats). ``keep`` is how many passing traces per problem become SFT records.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from r1cli.config.core import Section, check_rewards
from r1cli.config.sections import R1_MATH_INSTRUCTION, GenerationSection, ModelSection
from r1cli.errors import R1Error

# The R1 protocol's user turn: the problem, then the math instruction (a format string over the
# record's columns, so the literal braces of \boxed{} are doubled).
DEFAULT_PROMPT_TEMPLATE = "{problem}\n" + R1_MATH_INSTRUCTION.replace("{", "{{").replace("}", "}}")
BACKENDS = ("openai", "vllm", "hf", "tiny")


class DistillDataSection(Section):
    """Problems (``--data``: JSONL/JSON/Parquet/CSV or a hub id), their field names, and the prompt.

    ``prompt_template`` is filled with the record's columns (``{problem}``, ``{answer}``, ...);
    literal braces are written ``{{`` and ``}}``.
    """

    path: str | None = None
    split: str = "train"
    id_field: str = "id"
    problem_field: str = "problem"
    answer_field: str = "answer"
    prompt_template: str = DEFAULT_PROMPT_TEMPLATE
    limit: int | None = Field(default=None, gt=0)


class DistillGenerationSection(GenerationSection):
    """Sampling from the teacher (R1 protocol: T 0.6, top-p 0.95; ``n`` = k traces per problem).

    ``backend: tiny`` is the tiny world's programmatic teacher (``model.path`` names the task);
    ``tiny_error_rate`` makes that share of its traces end in a wrong answer. ``batch_size`` problems
    are sampled per call; their samples reach the raw log problem by problem, so a crash loses at
    most one batch of work.
    """

    backend: Literal["openai", "vllm", "hf", "tiny"] = "openai"  # type: ignore[assignment]
    n: int = Field(default=4, gt=0)
    batch_size: int = Field(default=32, gt=0)
    tiny_error_rate: float = Field(default=0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _tiny_only(self) -> DistillGenerationSection:
        if self.tiny_error_rate and self.backend != "tiny":
            raise R1Error(f"config: generation.tiny_error_rate only applies to backend 'tiny', not "
                          f"'{self.backend}': remove it")
        return self


class DistillRewardSection(Section):
    """The reward that verifies a trace, and the value a trace needs.

    ``name``: a reward registry name (``accuracy``, ``code``, ``countdown``, ...) or ``auto``: per
    problem, ``code`` when it has a ``tests`` or ``test_code`` column, ``countdown`` when it has
    ``numbers`` and ``target``, else ``accuracy``. ``params`` maps a reward name to its factory's
    parameters, e.g. ``{accuracy: {timeout_s: 10}, code: {binary: true}}``. A ``None`` reward (e.g. a
    gold answer that does not parse) rejects the trace; ``min_value`` is the reward a trace needs.
    """

    name: str = "auto"
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    min_value: float = 1.0

    @model_validator(mode="after")
    def _known(self) -> DistillRewardSection:
        check_rewards("reward.name", [] if self.name == "auto" else [self.name], self.params)
        return self


class DistillFilterSection(Section):
    """Checks every trace must pass, in this order, before the reward (see r1cli/distill/filters.py).

    - ``require_stop``: finish_reason must be "stop" (a "length" reply was cut off);
    - ``</think>`` must close the reasoning, with an answer after it; ``missing_think`` says what to do
      with a reply that lacks the opening ``<think>`` (the R1 prefill case): ``prepend`` it or ``reject``;
    - ``max_tokens``: longest trace kept, in completion tokens (None: no limit);
    - ``max_foreign_share``: language consistency, the largest share of letters outside the problem's
      script (code, math and LaTeX commands not counted; None: off). 0.1 is our choice, not a
      published value (R1 drops "mixed-language" traces without giving a number).
    - ``allowed_scripts``: scripts never counted as foreign (e.g. ``[Greek]``);
      ``default_script``: the script of a problem that has no letters;
    - ``max_paragraph_chars``: longest paragraph of the reasoning, in characters (None: off), and
      ``drop_code_blocks``: drop reasoning that holds a fenced code block. R1's rejection stage (v1
      §2.3.3) drops "long paragraphs and code blocks" without a number: any limit is the user's choice;
    - ``drop_duplicates``: a passing trace identical to an earlier one of the same problem is dropped.
    """

    require_stop: bool = True
    missing_think: Literal["prepend", "reject"] = "prepend"
    max_tokens: int | None = Field(default=None, gt=0)
    max_foreign_share: float | None = Field(default=0.1, ge=0, le=1)
    allowed_scripts: list[str] = Field(default_factory=list)
    default_script: str = "Latin"
    max_paragraph_chars: int | None = Field(default=None, gt=0)
    drop_code_blocks: bool = False
    drop_duplicates: bool = True


class CostSection(Section):
    """Prices in dollars per million tokens (None: no cost in the stats)."""

    input_per_mtok: float | None = Field(default=None, ge=0)
    output_per_mtok: float | None = Field(default=None, ge=0)


class MixSection(Section):
    """Non-reasoning SFT data mixed into ``sft.jsonl`` (R1 v1 §2.3.3: about 600k reasoning + 200k
    non-reasoning samples, so a share of about 0.25 — the default when a ``path`` is given).

    ``path``: chat records (``messages``, or ``prompt`` + ``completion``; JSONL/JSON/Parquet/CSV or a
    hub id); ``share``: the fraction of the final file they make up; ``seed``: which of them are drawn
    when the file holds more than needed. The kept traces are never dropped to make room.
    """

    path: str | None = None
    share: float = Field(default=0.25, ge=0, lt=1)
    seed: int = 0


class DistillConfig(Section):
    """Top-level config of `r1 distill`."""

    output_dir: str = "runs/distill"
    keep: int = Field(default=1, gt=0)
    model: ModelSection = ModelSection()
    data: DistillDataSection = DistillDataSection()
    generation: DistillGenerationSection = DistillGenerationSection()
    reward: DistillRewardSection = DistillRewardSection()
    filters: DistillFilterSection = DistillFilterSection()
    cost: CostSection = CostSection()
    mix: MixSection = MixSection()

    @model_validator(mode="after")
    def _check(self) -> DistillConfig:
        if self.keep > self.generation.n:
            raise R1Error(f"config: keep ({self.keep}) cannot exceed generation.n ({self.generation.n}); "
                          "lower --keep or raise --n")
        for key, value in self._unused_keys():
            raise R1Error(f"config: {key}={value!r} does not apply to backend '{self.generation.backend}' "
                          "(it would be ignored): remove it or pick a backend that uses it")
        return self

    def _unused_keys(self) -> list[tuple[str, Any]]:
        """Keys set away from their default that the chosen backend would not use."""
        backend = self.generation.backend
        gen, gen0 = self.generation, DistillGenerationSection()
        unused = [(f"model.{key}", getattr(self.model, key)) for key, users in _MODEL_KEYS.items()
                  if backend not in users and getattr(self.model, key) != getattr(ModelSection(), key)]
        for key, users in _BACKEND_KEYS.items():
            if backend not in users and getattr(gen, key) != getattr(gen0, key):
                unused.append((f"generation.{key}", getattr(gen, key)))
        return unused


# Model keys that only local backends read (an API or the tiny teacher has no weights to load).
_MODEL_KEYS: dict[str, tuple[str, ...]] = {
    "dtype": ("hf", "vllm"), "rope_theta": ("hf", "vllm"), "max_position_embeddings": ("hf", "vllm"),
    "attn_implementation": ("hf",),
}
# Generation keys that only some backends read (the others would silently ignore them).
_BACKEND_KEYS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("base_url", "endpoint", "api_key_env", "concurrency", "max_retries", "request_timeout_s"),
                    ("openai",)),
    **dict.fromkeys(("tensor_parallel_size", "gpu_memory_utilization", "max_model_len"), ("vllm",)),
    "token_budget": ("hf",),
    "prefill_think": ("hf", "vllm"),
    "system_prompt": ("hf", "vllm", "openai"),
}


def parse_price(text: str) -> tuple[float, float]:
    """``--price-per-mtok``: ``"IN,OUT"`` (input and output dollars per million tokens) or ``"P"``
    (one price for both).

    >>> parse_price("0.55,2.19")
    (0.55, 2.19)
    >>> parse_price("2")
    (2.0, 2.0)
    """
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or any(v < 0 for v in values):
        raise R1Error(f"--price-per-mtok '{text}': expected one price or INPUT,OUTPUT in dollars per "
                      "million tokens, e.g. 2.19 or 0.55,2.19")
    return (values[0], values[-1])
