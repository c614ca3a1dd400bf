"""A scripted OpenAI-compatible HTTP server on 127.0.0.1 for tests (generation, eval, distill, judge).

Usage::

    with FakeOpenAIServer(lambda prompt, i: f"answer {i}", failures={2: 429}) as server:
        backend = OpenAIBackend("fake", base_url=server.url, retry_base_delay=0.001)
        ...
        assert server.requests[0].body["n"] == 4

What it serves (POST ``/v1/chat/completions`` and ``/v1/completions``; GET ``/v1/models``):

- ``responder``: ``fn(prompt, index) -> text`` or ``-> (text, finish_reason)``, or a dict
  ``{(prompt, index): text}`` (missing keys answer ``""``). ``prompt`` is the completions ``prompt``, or for
  chat the content of the last user message; ``index`` counts the samples already served for that
  prompt (0, 1, ... across requests, so n separate ``n=1`` requests get indices 0..n-1 too).
- "Tokens" are whitespace-separated words: a text longer than ``max_tokens`` words is cut to that many
  and ends with ``finish_reason="length"``; ``stop`` strings cut the text (``"stop"``). ``usage`` counts
  words; ``token_ids=True`` adds per-choice ``token_ids`` (word positions) like vLLM's ``return_token_ids``.
- ``reject_n=True``: any request with ``n > 1`` gets HTTP 400 ``"n must be 1 ..."`` (hosted reasoning APIs).
- ``failures={request_number: action}`` (1-based over completion POSTs): an int is an HTTP status
  returned with an OpenAI-style error body (429 carries ``Retry-After: retry_after`` when set),
  ``"timeout"`` sleeps ``hang_seconds`` before answering normally, ``"malformed"`` sends broken JSON.
- ``api_key``: when set, requests without ``Authorization: Bearer <api_key>`` get HTTP 401.
- ``reasoning=True``: chat answers split ``<think>...</think>`` into ``message.reasoning`` + ``content``.
- ``requests``: every POST as :class:`Recorded` (number, path, body, headers), in arrival order.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[str, int], "str | tuple[str, str]"] | dict


@dataclass
class Recorded:
    number: int
    path: str
    body: dict
    headers: dict


def _default_responder(prompt: str, index: int) -> str:
    return f"sample {index} for: {prompt}"


class FakeOpenAIServer:
    """Context manager running the fake server in a daemon thread on an ephemeral port."""

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        reject_n: bool = False,
        failures: dict[int, int | str] | None = None,
        retry_after: float | None = None,
        hang_seconds: float = 1.0,
        token_ids: bool = False,
        reasoning: bool = False,
        api_key: str | None = None,
        model: str = "fake-model",
    ):
        self.responder = responder or _default_responder
        self.reject_n = reject_n
        self.failures = dict(failures or {})
        self.retry_after = retry_after
        self.hang_seconds = hang_seconds
        self.token_ids = token_ids
        self.reasoning = reasoning
        self.api_key = api_key
        self.model = model
        self.requests: list[Recorded] = []
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> FakeOpenAIServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": server.model, "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status, payload, headers = server._handle(self.path, body, dict(self.headers.items()))
                if payload is None:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"choices": [')
                    return
                self._send(status, payload, headers)

            def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------------------------- logic
    def _handle(self, path: str, body: dict, headers: dict) -> tuple[int, dict | None, dict]:
        with self._lock:
            number = len(self.requests) + 1
            self.requests.append(Recorded(number, path, body, headers))
        if self.api_key is not None and headers.get("Authorization") != f"Bearer {self.api_key}":
            return 401, _error("invalid api key", "authentication_error"), {}
        action = self.failures.get(number)
        if isinstance(action, int):
            extra = {"Retry-After": str(self.retry_after)} if action == 429 and self.retry_after else {}
            return action, _error(f"injected failure {action}", "server_error"), extra
        if action == "timeout":
            time.sleep(self.hang_seconds)
        if action == "malformed":
            return 200, None, {}
        chat = path.rstrip("/").endswith("/chat/completions")
        if not chat and not path.rstrip("/").endswith("/completions"):
            return 404, _error(f"no route {path}", "not_found"), {}
        n = int(body.get("n", 1))
        if self.reject_n and n > 1:
            return 400, _error(f"n must be 1 for this model, got n={n}", "invalid_request_error"), {}
        prompt = _prompt_text(body, chat)
        with self._lock:
            first = self._served.get(prompt, 0)
            self._served[prompt] = first + n
        choices, words = [], 0
        for k in range(n):
            text, reason = self._answer(prompt, first + k, body)
            words += len(text.split())
            choice: dict[str, Any] = {"index": k, "finish_reason": reason}
            if chat:
                choice["message"] = self._message(text)
            else:
                choice["text"] = text
            if self.token_ids:
                choice["token_ids"] = list(range(len(text.split())))
            choices.append(choice)
        usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": words,
                 "total_tokens": len(prompt.split()) + words}
        kind = "chat.completion" if chat else "text_completion"
        return 200, {"id": f"fake-{number}", "object": kind, "model": body.get("model"),
                     "choices": choices, "usage": usage}, {}

    def _answer(self, prompt: str, index: int, body: dict) -> tuple[str, str]:
        if isinstance(self.responder, dict):
            out: Any = self.responder.get((prompt, index), "")
        else:
            out = self.responder(prompt, index)
        text, reason = (out, "stop") if isinstance(out, str) else out
        for s in body.get("stop") or []:
            if s in text:
                text, reason = text[: text.index(s)], "stop"
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        if limit is not None and len(text.split()) > int(limit):
            text, reason = " ".join(text.split()[: int(limit)]), "length"
        return text, reason

    def _message(self, text: str) -> dict:
        if self.reasoning and "</think>" in text:
            thought, _, content = text.partition("</think>")
            return {"role": "assistant", "reasoning": thought.replace("<think>", "").strip(),
                    "content": content.strip()}
        return {"role": "assistant", "content": text}


def _prompt_text(body: dict, chat: bool) -> str:
    if not chat:
        return str(body.get("prompt", ""))
    users = [m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user"]
    return str(users[-1]) if users else ""


def _error(message: str, kind: str) -> dict:
    return {"error": {"message": message, "type": kind, "code": None}}
