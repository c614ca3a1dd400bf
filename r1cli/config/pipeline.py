"""Config of `r1 pipeline`: where it writes, the held-out evaluation of the report, the stages in order.

A stage is a mapping with ``kind`` (r1cli.pipeline.stages.KINDS), optional ``preset`` and ``report``,
and the keys of that command's own config; it is resolved and validated by :mod:`r1cli.pipeline.spec`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from r1cli.config.core import Section


class ReportSection(Section):
    """Held-out evaluation of every stage that outputs a model, for ``report.md``.

    ``benchmark``: an ``r1 eval`` benchmark (``arith``, ``math500``, ...; None: no evaluation);
    ``data``: its problems file (wiring allowed; default: the benchmark's own data). Sampling follows
    the R1 protocol (T 0.6, top-p 0.95) unless set. ``lang``: the target language of the language-
    consistency column (``r1cli.rewards.language``).
    """

    benchmark: str | None = None
    data: str | None = None
    n: int = Field(default=4, gt=0)
    limit: int | None = Field(default=200, gt=0)
    temperature: float = Field(default=0.6, ge=0)
    top_p: float = Field(default=0.95, gt=0, le=1)
    max_new_tokens: int | None = Field(default=None, gt=0)
    lang: str = "en"

    @field_validator("lang")
    @classmethod
    def _known_lang(cls, value: str) -> str:
        from r1cli.rewards.language import target_script

        target_script(value)
        return value


class PipelineConfig(Section):
    """Everything ``r1 pipeline`` needs: where it writes, the report's evaluation, the stages in order."""

    output_dir: str = "runs/pipeline"
    # torch threads for every stage (1 makes CPU runs bit-reproducible, so a resumed run ends where an
    # uninterrupted one does); None leaves each stage's own setting
    cpu_threads: int | None = Field(default=None, gt=0)
    report: ReportSection = Field(default_factory=ReportSection)
    stages: dict[str, dict[str, Any]] = Field(default_factory=dict)
