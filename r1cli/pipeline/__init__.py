"""``r1 pipeline``: a recipe of stages (sft, grpo, sample, distill, curate, eval, ...) run as one
resumable chain. :mod:`.spec` resolves and validates the plan, :mod:`.state` keeps the markers,
:mod:`.runner` runs it and :mod:`.report` writes report.md."""
