"""The ``openai`` backend: any OpenAI-compatible HTTP server (vLLM serve, SGLang, a hosted API).

Standard library only (``urllib`` + a thread pool); no ``openai`` or ``httpx`` dependency.

- Endpoints: ``endpoint="chat"`` posts ``{base_url}/chat/completions`` (a plain-string prompt becomes one
  user message; ``system_prompt`` is prepended), ``endpoint="completions"`` posts
  ``{base_url}/completions`` with an already-templated string prompt.
- One request per prompt asks for ``n`` choices. A server that answers HTTP 400 with a message about
  ``n`` (many hosted reasoning models, some engines) is remembered as n-rejecting: that prompt and all
  later ones are sent as ``n`` requests with ``n=1`` and seeds ``seed, seed+1, ...`` (identical seeds
  would give identical samples).
- Retries: HTTP 429 and 5xx, timeouts and connection errors are retried up to ``max_retries`` times,
  sleeping ``min(retry_max_delay, retry_base_delay * 2**attempt)`` (or the server's ``Retry-After``
  when shorter than that cap). Other HTTP errors fail at once with an :class:`R1Error`.
- The API key is read from the environment variable named ``api_key_env`` at each request and sent as
  ``Authorization: Bearer``; it is never stored on the object, so it cannot reach ``repr``, logs or
  outputs, and error messages are scrubbed of it.
- Reasoning servers (vLLM/SGLang with a reasoning parser) return the trace in ``message.reasoning``
  (older: ``reasoning_content``); the completion text is then rebuilt as
  ``"<think>\\n{reasoning}\\n</think>\\n\\n{content}"`` so every downstream reward sees R1's format.
- Token usage: ``Completion.token_ids`` is empty unless the server returns per-choice ``token_ids``
  (vLLM with ``return_token_ids``, via ``extra_body``). ``Completion.usage`` holds ``prompt_tokens`` and
  ``completion_tokens`` for that choice: exact for single-choice responses; for an n-choice response the
  response total is split across choices in proportion to their text length (``"estimated": True``;
  the split sums to the exact total). ``finish_reason`` maps ``"length"`` to ``"length"`` and every other
  reason (``"stop"``, ``"eos"``, ``"content_filter"``, ...) to ``"stop"``.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from r1cli.errors import R1Error, one_of
from r1cli.generation.base import Completion, GenerationBackend, Prompt, SamplingParams
from r1cli.generation.prompts import to_messages

ENDPOINTS = ("chat", "completions")
_N_REJECTED = re.compile(r"(?<![A-Za-z_])n(?![A-Za-z_])|\bn\s*>\s*1|\bnum_return")


class OpenAIHTTPError(R1Error):
    """A request that failed for good; ``status`` is the last HTTP status (None: no HTTP answer)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class _Retryable(Exception):
    """A failure worth retrying (429/5xx/timeout/connection); carries an optional Retry-After."""

    def __init__(self, message: str, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class _NRejected(Exception):
    """The server refused ``n > 1``."""


class OpenAIBackend(GenerationBackend):
    """Sample from an OpenAI-compatible server. See the module docstring for the protocol details."""

    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str = "http://127.0.0.1:8000/v1",
        endpoint: str = "chat",
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        max_retries: int = 5,
        retry_base_delay: float = 1.0,
        retry_max_delay: float = 60.0,
        timeout: float = 600.0,
        system_prompt: str | None = None,
        extra_body: dict[str, Any] | None = None,
    ):
        if endpoint not in ENDPOINTS:
            raise R1Error(f"unknown openai endpoint '{endpoint}': {one_of(ENDPOINTS)}")
        if concurrency < 1 or max_retries < 0 or timeout <= 0:
            raise R1Error("openai backend: concurrency must be >= 1, max_retries >= 0 and timeout > 0")
        if not re.match(r"^https?://", base_url):
            raise R1Error(f"openai backend: base_url '{base_url}' must start with http:// or https://")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.endpoint = endpoint
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.retry_base_delay = retry_base_delay
        self.retry_max_delay = retry_max_delay
        self.timeout = timeout
        self.system_prompt = system_prompt
        self.extra_body = dict(extra_body or {})
        self.n_supported = True  # flips to False after the first "n must be 1" answer

    @property
    def problems_per_call(self) -> int:
        """sample_to_file's default chunk: enough prompts to keep every connection busy."""
        return 4 * self.concurrency

    def __repr__(self) -> str:
        return (f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r}, endpoint={self.endpoint!r}, "
                f"api_key_env={self.api_key_env!r})")

    # ----------------------------------------------------------------------------------- public API
    def generate(self, prompts: list[Prompt], params: SamplingParams) -> list[list[Completion]]:
        """For each prompt, ``params.n`` completions, requested concurrently."""
        if params.n < 1 or params.max_new_tokens < 1:
            raise R1Error("n and max_new_tokens must be at least 1")
        bodies = [self._body(p, params) for p in prompts]
        results: list[list[Completion] | None] = [None] * len(prompts)
        pool = ThreadPoolExecutor(max_workers=self.concurrency)
        try:
            futures = [pool.submit(self._one_prompt_n, body, params) for body in bodies]
            rejected = []
            for i, fut in enumerate(futures):
                out = fut.result()
                if out is None:
                    rejected.append(i)
                else:
                    results[i] = out
            singles = {
                (i, k): pool.submit(self._request_choices, self._single(bodies[i], params, k))
                for i in rejected for k in range(params.n)
            }
            for i in rejected:
                results[i] = [singles[(i, k)].result()[0] for k in range(params.n)]
        finally:  # on an error, do not wait for the queued requests
            pool.shutdown(wait=True, cancel_futures=True)
        for i, group in enumerate(results):
            if group is None or len(group) != params.n:
                got = 0 if group is None else len(group)
                raise R1Error(f"openai backend: the server returned {got} choices for prompt {i}, "
                              f"expected n={params.n}")
        return results  # type: ignore[return-value]

    def complete_one(self, prompt: Prompt, params: SamplingParams) -> Completion:
        """One completion for one prompt (used by the LLM judge)."""
        return self._request_choices(self._single(self._body(prompt, params), params, 0))[0]

    # ------------------------------------------------------------------------------------ requests
    def _body(self, prompt: Prompt, params: SamplingParams) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "n": params.n,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_new_tokens,
        }
        if self.endpoint == "chat":
            body["messages"] = to_messages(prompt, self.system_prompt)
        elif isinstance(prompt, str):
            body["prompt"] = prompt
        else:
            raise R1Error("openai backend: the completions endpoint takes plain-text prompts, got chat "
                          "messages; use endpoint 'chat' (or template the prompt yourself)")
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        if params.top_k > 0:
            body["top_k"] = params.top_k  # vLLM/SGLang extension
        body.update(self.extra_body)
        return body

    def _single(self, body: dict[str, Any], params: SamplingParams, k: int) -> dict[str, Any]:
        """The k-th of n single-sample requests replacing one n-sample request."""
        one = {**body, "n": 1}
        if params.seed is not None:
            one["seed"] = params.seed + k
        return one

    def _one_prompt_n(self, body: dict[str, Any], params: SamplingParams) -> list[Completion] | None:
        """All n choices in one request, or None when the server rejects n > 1 (caller falls back)."""
        if params.n > 1 and not self.n_supported:
            return None
        try:
            return self._request_choices(body)
        except _NRejected:
            self.n_supported = False
            return None

    def _request_choices(self, body: dict[str, Any]) -> list[Completion]:
        """POST with retries and parse the choices, in index order."""
        response = self._post_with_retries(body)
        choices = sorted(response.get("choices") or [], key=lambda c: c.get("index", 0))
        usage = response.get("usage") or {}
        texts = [self._choice_text(c) for c in choices]
        counts = _split_tokens(usage.get("completion_tokens"), texts)
        out = []
        for choice, text, count in zip(choices, texts, counts, strict=True):
            ids = tuple(int(t) for t in choice.get("token_ids") or ())
            choice_usage: dict[str, Any] = {"prompt_tokens": usage.get("prompt_tokens")}
            if ids:
                choice_usage["completion_tokens"] = len(ids)
            elif count is not None:
                choice_usage["completion_tokens"] = count
                if len(choices) > 1:
                    choice_usage["estimated"] = True
            reason = "length" if choice.get("finish_reason") == "length" else "stop"
            out.append(Completion(text=text, token_ids=ids, logprobs=None, finish_reason=reason,
                                  usage=choice_usage))
        return out

    def _choice_text(self, choice: dict[str, Any]) -> str:
        if self.endpoint == "completions":
            return choice.get("text") or ""
        message = choice.get("message") or {}
        content = message.get("content") or ""
        reasoning = message.get("reasoning") or message.get("reasoning_content")
        return f"<think>\n{reasoning}\n</think>\n\n{content}" if reasoning else content

    def _post_with_retries(self, body: dict[str, Any]) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                return self._post(body)
            except _Retryable as err:
                if attempt >= self.max_retries:
                    raise OpenAIHTTPError(f"openai backend: {err} (gave up after {attempt + 1} attempts; "
                                          f"raise max_retries or check the server at {self.base_url})",
                                          err.status) from None
                delay = min(self.retry_max_delay, self.retry_base_delay * 2**attempt)
                if err.retry_after is not None:
                    delay = min(delay, max(0.0, err.retry_after))
                time.sleep(delay)
                attempt += 1

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        """One HTTP POST; raises _Retryable, _NRejected or R1Error."""
        path = "/chat/completions" if self.endpoint == "chat" else "/completions"
        url = self.base_url + path
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = os.environ.get(self.api_key_env, "")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                return json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as err:
            message = _scrub(_error_message(err), key)
            if err.code == 429 or err.code >= 500:
                raise _Retryable(f"HTTP {err.code} from {url}: {message}",
                                 _retry_after(err.headers.get("Retry-After")), err.code) from None
            if err.code == 400 and body.get("n", 1) > 1 and _N_REJECTED.search(message):
                raise _NRejected(message) from None
            raise OpenAIHTTPError(f"openai backend: HTTP {err.code} from {url}: {message}", err.code) from None
        except (TimeoutError, ConnectionError, urllib.error.URLError) as err:
            reason = getattr(err, "reason", err)
            raise _Retryable(f"no answer from {url}: {_scrub(str(reason), key)}") from None
        except json.JSONDecodeError as err:
            raise _Retryable(f"malformed JSON from {url}: {err}") from None


def _error_message(err: urllib.error.HTTPError) -> str:
    try:
        raw = err.read().decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - a broken error body must not hide the status
        return str(err.reason)
    try:
        data = json.loads(raw)
        inner = data.get("error", data) if isinstance(data, dict) else data
        message = inner.get("message") if isinstance(inner, dict) else None
        return str(message or inner)[:500]
    except (json.JSONDecodeError, AttributeError):
        return raw.strip()[:500] or str(err.reason)


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _scrub(text: str, key: str) -> str:
    return text.replace(key, "***") if key else text


def _split_tokens(total: Any, texts: list[str]) -> list[int | None]:
    """Split a response's completion-token total across choices by text length (sums to ``total``)."""
    if not isinstance(total, int) or not texts:
        return [None] * len(texts)
    if len(texts) == 1:
        return [total]
    weights = [max(1, len(t)) for t in texts]
    shares = [total * w // sum(weights) for w in weights]
    for j in range(total - sum(shares)):  # hand out the integer remainder, first choices first
        shares[j % len(shares)] += 1
    return shares
