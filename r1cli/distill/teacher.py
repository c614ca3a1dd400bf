"""The offline teacher: the tiny world's programmatic trace writer behind the generation contract.

``r1 distill --backend tiny --teacher arith`` samples from :meth:`r1cli.tasks.Task.teacher` instead
of a model, so the whole distillation pipeline (sampling, verification, filters, resume, stats) runs
with no network and no GPU. With ``error_rate > 0`` some traces get a wrong final answer, so
rejection sampling has something to reject.
"""

from __future__ import annotations

import random
import re
from typing import Any

from r1cli.errors import R1Error
from r1cli.generation.base import Completion, GenerationBackend, Prompt, SamplingParams

_LAST_BOX = re.compile(r"\\boxed\{([^{}]*)\}(?!.*\\boxed\{)", re.DOTALL)


def _prompt_key(prompt: Prompt) -> str:
    """The text a prompt is looked up by: the string itself, or the last user message's content."""
    if isinstance(prompt, str):
        return prompt
    users = [m.get("content", "") for m in prompt if m.get("role") == "user"]
    return users[-1] if users else ""


def corrupt_answer(text: str) -> str:
    """``text`` with its last ``\\boxed{X}`` replaced by ``\\boxed{X + 1}``: a wrong answer for every
    built-in task (arith: off by one; countdown: uses a number not given)."""
    return _LAST_BOX.sub(lambda m: "\\boxed{" + m.group(1) + " + 1}", text)


class TinyTeacherBackend(GenerationBackend):
    """A :class:`GenerationBackend` whose completions are a built-in task's teacher traces.

    ``prompts`` maps each prompt text (as the engine builds it) to its problem record, since the
    teacher needs the record's columns (operands, numbers), not the prompt. Sample ``j`` of the problem
    with id ``i`` is drawn from ``random.Random(f"{seed}-{i}-{j}")``: the same trace on a rerun, so
    resume and tests are reproducible. Token counts are one token per character (the tiny world has no
    teacher tokenizer; characters bound the tiny BPE's count from above).
    """

    name = "tiny"

    def __init__(self, task_name: str, prompts: dict[str, dict[str, Any]], *, seed: int | None = 0,
                 error_rate: float = 0.0) -> None:
        from r1cli.tasks import get_task

        if not 0.0 <= error_rate <= 1.0:
            raise R1Error(f"generation.tiny_error_rate must be in [0, 1], got {error_rate}")
        self.task = get_task(task_name)
        self.prompts = prompts
        self.seed = 0 if seed is None else seed
        self.error_rate = error_rate

    def _record(self, prompt: Prompt) -> dict[str, Any]:
        key = _prompt_key(prompt)
        if key not in self.prompts:
            raise R1Error(f"tiny teacher '{self.task.name}': no problem record for prompt {key[:60]!r} "
                          "(the tiny backend only answers the problems it was built with)")
        return self.prompts[key]

    def _one(self, record: dict[str, Any], prompt_text: str, j: int) -> Completion:
        rng = random.Random(f"{self.seed}-{record['id']}-{j}")
        try:
            text = self.task.teacher(record, rng)
        except (KeyError, TypeError, ValueError) as e:
            raise R1Error(f"tiny teacher '{self.task.name}': problem '{record.get('id')}' lacks the task's "
                          f"columns ({e!r}); make problems with `r1 data make {self.task.name}`") from None
        if self.error_rate and rng.random() < self.error_rate:
            text = corrupt_answer(text)
        return Completion(text=text, token_ids=tuple(ord(c) for c in text), finish_reason="stop",
                          usage={"prompt_tokens": len(prompt_text),
                                 "completion_tokens": len(text)})

    def generate(self, prompts: list[Prompt], params: SamplingParams) -> list[list[Completion]]:
        out = []
        for prompt in prompts:
            record = self._record(prompt)
            out.append([self._one(record, _prompt_key(prompt), j) for j in range(params.n)])
        return out
