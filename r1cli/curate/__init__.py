"""Data curation for R1-style training: mix, normalize, dedup, decontam, verify, difficulty, length.

Entry point: :func:`run_curate` (``r1cli.curate.pipeline``). Each step is also a plain function
``step(rows, **params) -> (kept_rows, removed_rows)``; removed rows carry ``removed_by`` and
``reason``.
"""

from r1cli.curate.decontam import decontam_rows
from r1cli.curate.dedup import dedup_rows
from r1cli.curate.difficulty import difficulty_rows
from r1cli.curate.length import length_rows
from r1cli.curate.mix import InputSpec, load_input, mix
from r1cli.curate.normalize import normalize_rows
from r1cli.curate.pipeline import STEPS, StepSpec, parse_steps, run_curate
from r1cli.curate.verify import verify_rows

__all__ = [
    "STEPS", "InputSpec", "StepSpec", "decontam_rows", "dedup_rows", "difficulty_rows", "length_rows",
    "load_input", "mix", "normalize_rows", "parse_steps", "run_curate",
    "verify_rows",
]
