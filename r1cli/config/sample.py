"""Config of `r1 sample`."""

from __future__ import annotations

from r1cli.config.core import Section
from r1cli.config.sections import DataSection, GenerationSection, ModelSection


class SampleConfig(Section):
    output_dir: str = "runs/sample"
    model: ModelSection = ModelSection()
    data: DataSection = DataSection()
    generation: GenerationSection = GenerationSection()
    shard: str | None = None  # "i/k": this process samples shard i of k (SLURM job arrays)
