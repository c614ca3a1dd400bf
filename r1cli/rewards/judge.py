"""``judge``: LLM-as-judge through the ``openai`` generation backend (any OpenAI-compatible server).

For each completion the judge model is asked whether the completion's final answer (the text after the
last ``</think>``, its last ``max_answer_chars`` characters) is mathematically equivalent to the reference
answer, and to reply YES or NO. Reward: 1.0 for YES, 0.0 for NO, ``None`` ("cannot judge") when the
reference is missing, the reply says neither, or the request still fails after ``max_retries`` retries
(429/5xx/timeouts are retried with exponential backoff by the backend). An empty final answer scores 0.0
without a request. A rejected API key or an unknown model/endpoint (HTTP 401/403/404) is a setup mistake
and raises :class:`~r1cli.errors.R1Error` instead of silently scoring ``None``.

Identical (problem, reference, final answer) triples are judged once per call and cached on the reward
object, so a GRPO group whose samples agree costs one request. The API key comes from the environment
variable ``api_key_env`` and never reaches logs or outputs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from r1cli.errors import R1Error
from r1cli.rewards.columns import require_column
from r1cli.rewards.extract import completion_text, final_part

JUDGE_SYSTEM = "You are a strict grader of math answers. Reply with exactly one word: YES or NO."
JUDGE_TEMPLATE = (
    "{problem_block}Reference answer:\n{reference}\n\n"
    "Candidate's final answer:\n{candidate}\n\n"
    "Is the candidate's final answer mathematically equivalent to the reference answer? "
    "Ignore formatting, units written out, and equivalent forms (fractions vs decimals, reordered terms). "
    "Reply YES or NO."
)
_VERDICT = re.compile(r"\b(yes|no)\b", re.IGNORECASE)
_SETUP_ERRORS = (401, 403, 404)


def parse_verdict(reply: str) -> float | None:
    """``"YES"`` -> 1.0, ``"no."`` -> 0.0; the last YES/NO after any ``</think>`` wins; None if neither."""
    words = _VERDICT.findall(final_part(reply or ""))
    if not words:
        return None
    return 1.0 if words[-1].lower() == "yes" else 0.0


class JudgeReward:
    """Callable reward ``fn(completions, answer, problem=None, **columns) -> list[float | None]``."""

    def __init__(self, backend: Any, *, max_new_tokens: int, max_answer_chars: int, concurrency: int):
        from r1cli.generation.base import SamplingParams

        self.backend = backend
        self.params = SamplingParams(n=1, temperature=0.0, top_p=1.0, max_new_tokens=max_new_tokens, seed=0)
        self.max_answer_chars = max_answer_chars
        self.concurrency = concurrency
        self.cache: dict[tuple[str, str, str], float | None] = {}
        self.failures = 0  # requests that still failed after retries (scored None)

    def __repr__(self) -> str:
        return f"JudgeReward(backend={self.backend!r})"

    def prompt(self, problem: str | None, reference: str, candidate: str) -> list[dict[str, str]]:
        """The chat messages sent to the judge model."""
        problem_block = f"Problem:\n{problem}\n\n" if problem else ""
        user = JUDGE_TEMPLATE.format(problem_block=problem_block, reference=reference, candidate=candidate)
        return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]

    def __call__(
        self,
        completions: Sequence[Any],
        answer: Sequence[Any] | None = None,
        problem: Sequence[Any] | None = None,
        **columns: Any,
    ) -> list[float | None]:
        n = len(completions)
        golds = require_column("judge", "answer", answer, n)
        problems = require_column("judge", "problem", problem, n) if problem is not None else [None] * n
        keys: list[tuple[str, str, str] | None] = []
        scores: list[float | None] = [None] * n
        for i, (completion, gold, prob) in enumerate(zip(completions, golds, problems, strict=True)):
            candidate = final_part(completion_text(completion)).strip()[-self.max_answer_chars :]
            if gold is None or not str(gold).strip():
                keys.append(None)  # nothing to compare against: cannot judge
            elif not candidate:
                keys.append(None)
                scores[i] = 0.0  # no final answer is a wrong answer
            else:
                keys.append((str(prob or ""), str(gold).strip(), candidate))
        todo = sorted({k for k in keys if k is not None and k not in self.cache})
        if todo:
            with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
                for key, verdict in zip(todo, pool.map(self._judge_one, todo), strict=True):
                    self.cache[key] = verdict
        for i, key in enumerate(keys):
            if key is not None:
                scores[i] = self.cache[key]
        return scores

    def _judge_one(self, key: tuple[str, str, str]) -> float | None:
        from r1cli.generation.openai_backend import OpenAIHTTPError

        problem, reference, candidate = key
        try:
            reply = self.backend.complete_one(self.prompt(problem or None, reference, candidate), self.params)
        except OpenAIHTTPError as err:
            if err.status in _SETUP_ERRORS:
                raise R1Error(f"reward 'judge': {err}") from None
            self.failures += 1
            return None
        return parse_verdict(reply.text)


def make_judge_reward(
    *,
    base_url: str,
    model: str,
    api_key_env: str = "OPENAI_API_KEY",
    max_retries: int = 3,
    retry_base_delay: float = 1.0,
    timeout: float = 120.0,
    concurrency: int = 8,
    max_new_tokens: int = 256,
    max_answer_chars: int = 2000,
) -> JudgeReward:
    """LLM-as-judge reward served by ``model`` at ``base_url`` (see the module docstring)."""
    from r1cli.generation.openai_backend import OpenAIBackend

    if max_new_tokens < 1 or max_answer_chars < 1 or concurrency < 1:
        raise R1Error("reward 'judge': max_new_tokens, max_answer_chars and concurrency must be >= 1")
    backend = OpenAIBackend(
        model,
        base_url=base_url,
        endpoint="chat",
        api_key_env=api_key_env,
        concurrency=1,
        max_retries=max_retries,
        retry_base_delay=retry_base_delay,
        timeout=timeout,
    )
    return JudgeReward(
        backend, max_new_tokens=max_new_tokens, max_answer_chars=max_answer_chars, concurrency=concurrency
    )
