"""Config of `r1 dpo`: the policy (shared model section), the frozen reference, the pairs, the loss and
the training loop (the same section as `r1 sft`).

Every key is used by :func:`r1cli.train.dpo.run_dpo`. One unit of the data plan is one pair (its
chosen and its rejected completion), so the global batch is ``per_device_batch_size *
gradient_accumulation_steps * world_size`` pairs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from r1cli.config.core import Section
from r1cli.config.sections import GenerationSection, ModelSection
from r1cli.config.sft import SFTTrainSection


class DPODataSection(Section):
    """Preference pairs (``pairs.jsonl`` from ``r1 curate --steps pairs``) and how prompts are built."""

    path: str | None = None
    split: str = "train"
    prompt_field: str = "problem"
    chosen_field: str = "chosen"
    rejected_field: str = "rejected"
    # the user turn: filled from the record's columns ({problem}); literal braces as {{ }}
    prompt_template: str = "{problem}"
    chat_template: bool = True  # False: the filled template is the raw prompt text
    system_prompt: str | None = None
    limit: int | None = Field(default=None, gt=0)
    max_length: int = Field(default=4096, gt=1)  # prompt + completion tokens; longer ones are cut
    shuffle: bool = True
    # True: pairs packed into rows of up to pack_length positions (None: max_length); False: one pair per
    # row, padded. None: True with flash/flex attention (segments from position ids, no mask), and with
    # sdpa/eager rows no longer than the micro-batch's longest pair (a mask costs its row length squared)
    packing: bool | None = None
    pack_length: int | None = Field(default=None, gt=1)
    # the tokens chosen and rejected start with (the prompt) run once per pair; None: when the attention
    # takes a mask (sdpa, eager), not with flash/flex attention (packed as two segments there)
    share_prefix: bool | None = None


class DPOSection(Section):
    """The preference loss (:func:`r1cli.rl.dpo.dpo_loss`)."""

    beta: float = Field(default=0.1, gt=0)
    loss: Literal["sigmoid", "ipo", "sigmoid-norm", "nca"] = "sigmoid"
    label_smoothing: float = Field(default=0.0, ge=0, lt=0.5)
    nll_coef: float = Field(default=0.0, ge=0)  # + α·NLL(chosen)/|chosen| (DPO + NLL, iterative RPO)


class RoundsSection(Section):
    """Iterative DPO (``rounds: K``): each round samples ``generation.n`` completions per problem of
    ``problems`` with the current policy, grades them into pairs (the ``pairs`` step of ``r1 curate``),
    and runs DPO from that policy, with it as the reference."""

    problems: str | None = None  # problems with gold answers (JSONL/JSON/Parquet/CSV or a hub id)
    limit: int | None = Field(default=None, gt=0)  # problems per round
    select: Literal["random", "shortest-longest"] = "random"
    min_margin: int | None = Field(default=None, ge=0)


class DPOGenerationSection(GenerationSection):
    """Sampling of iterative DPO's rounds: 4 completions per problem by default, so that pairs exist."""

    n: int = Field(default=4, gt=0)
    max_new_tokens: int = Field(default=1024, gt=0)


class DPOConfig(Section):
    """Top-level config of `r1 dpo`."""

    output_dir: str = "runs/dpo"
    model: ModelSection = Field(default_factory=ModelSection)
    # the frozen reference policy; default: the model being trained, as it is before step 1
    ref_model: str | None = None
    data: DPODataSection = Field(default_factory=DPODataSection)
    dpo: DPOSection = Field(default_factory=DPOSection)
    train: SFTTrainSection = Field(default_factory=SFTTrainSection)
    resume: str | None = None
    # iterative DPO: None trains once on data.path (pairs); K > 1 runs K rounds of sample -> pairs -> DPO
    rounds: int | None = Field(default=None, ge=1)
    iterate: RoundsSection = Field(default_factory=RoundsSection)
    generation: DPOGenerationSection = Field(default_factory=DPOGenerationSection)
