"""The one generation interface (DESIGN.md §2, contract).

``GenerationBackend.generate(prompts, params) -> list[list[Completion]]``: for each prompt, exactly
``params.n`` completions. A prompt is either a plain string (already templated) or a list of chat
messages ``[{"role": ..., "content": ...}]`` that the backend renders with the model's chat template.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

Message = dict[str, str]
Prompt = str | list[Message]


@dataclass(frozen=True)
class SamplingParams:
    """How to sample. ``seed=None`` means not reproducible; ``top_k=0`` disables top-k."""

    n: int = 1
    temperature: float = 0.6
    top_p: float = 0.95
    max_new_tokens: int = 32768
    stop: tuple[str, ...] = ()
    seed: int | None = 0
    top_k: int = 0


@dataclass(frozen=True)
class Completion:
    """One sampled completion.

    ``token_ids``: generated token ids (no prompt); ``logprobs``: log-probability of each sampled
    token under the sampling distribution (same length as token_ids, or None when the backend
    cannot give them); ``finish_reason``: ``"stop"`` (EOS or stop string) or ``"length"``.
    """

    text: str
    token_ids: tuple[int, ...] = ()
    logprobs: tuple[float, ...] | None = None
    finish_reason: str = "stop"
    usage: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids)


class GenerationBackend(ABC):
    """Base class of every backend. Subclasses implement :meth:`generate`."""

    name: str = "base"

    @abstractmethod
    def generate(self, prompts: list[Prompt], params: SamplingParams) -> list[list[Completion]]:
        """Return, for each prompt in order, exactly ``params.n`` completions."""

    def update_weights(self, model: Any) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Load new policy weights in place (GRPO). Backends that share the model object need nothing."""

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release resources (servers, GPU memory)."""
