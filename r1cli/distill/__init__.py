"""`r1 distill`: rejection-sampled teacher traces as SFT data (R1 §2.4 / the R1-Distill recipe).

A teacher (an OpenAI-compatible server, vLLM, transformers, or the tiny world's programmatic teacher)
writes k traces per problem with the R1 sampling protocol; each is verified with a reward and passed
through format, length and language filters; up to ``keep`` per problem become ``sft.jsonl`` records.
See :mod:`r1cli.distill.engine` for the outputs and resume guarantees.
"""

from r1cli.distill.derive import Rewarder, cost_usd, derive, reward_name_for
from r1cli.distill.engine import run_distill
from r1cli.distill.filters import (
    FILTERS,
    FilterSettings,
    assemble_trace,
    char_script,
    dominant_script,
    first_failure,
    foreign_share,
    select_kept,
)

__all__ = [
    "FILTERS",
    "FilterSettings",
    "Rewarder",
    "assemble_trace",
    "char_script",
    "cost_usd",
    "derive",
    "dominant_script",
    "first_failure",
    "foreign_share",
    "reward_name_for",
    "run_distill",
    "select_kept",
]
