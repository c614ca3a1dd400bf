"""The openai backend against a real HTTP server on 127.0.0.1 (tests/helpers/fake_openai_server.py)."""

from __future__ import annotations

import pytest

from r1cli.errors import R1Error
from r1cli.generation.base import SamplingParams
from r1cli.generation.openai_backend import OpenAIBackend
from tests.helpers.fake_openai_server import FakeOpenAIServer

FAST = {"retry_base_delay": 0.001, "retry_max_delay": 0.01}


def backend(server, **kw):
    return OpenAIBackend("fake-model", base_url=server.url, **{**FAST, **kw})


def test_chat_n_per_prompt_in_one_request():
    with FakeOpenAIServer(lambda p, i: f"{p} -> answer {i}") as server:
        out = backend(server).generate(["one plus one", "two"], SamplingParams(n=3, seed=5, max_new_tokens=50))
        assert [[c.text for c in g] for g in out] == [
            [f"one plus one -> answer {i}" for i in range(3)], [f"two -> answer {i}" for i in range(3)]]
        assert len(server.requests) == 2  # one request per prompt carrying n=3
        body = server.requests[0].body
        assert body["n"] == 3 and body["seed"] == 5 and body["max_tokens"] == 50
        assert body["messages"] == [{"role": "user", "content": body["messages"][0]["content"]}]
    c = out[0][0]
    # usage: "one plus one -> answer 0" is 6 words; 3 equally long choices -> 18 in total, split 6 each
    assert c.usage["completion_tokens"] == 6 and c.usage["estimated"] is True and c.usage["prompt_tokens"] == 3
    assert c.token_ids == () and c.logprobs is None and c.finish_reason == "stop"


def test_completions_endpoint_and_length_finish_reason():
    with FakeOpenAIServer(lambda p, i: "a b c d e f") as server:
        b = backend(server, endpoint="completions")
        out = b.generate(["<|im_start|>user\nhi"], SamplingParams(n=1, max_new_tokens=4))
        assert server.requests[0].path == "/v1/completions"
        assert server.requests[0].body["prompt"] == "<|im_start|>user\nhi"
    assert (out[0][0].text, out[0][0].finish_reason, out[0][0].usage["completion_tokens"]) == ("a b c d", "length", 4)
    with pytest.raises(R1Error, match="completions endpoint takes plain-text"):
        b.generate([[{"role": "user", "content": "x"}]], SamplingParams(n=1))


def test_n_rejected_falls_back_to_single_requests_with_distinct_seeds():
    with FakeOpenAIServer(lambda p, i: f"s{i}", reject_n=True) as server:
        b = backend(server, concurrency=1)
        out = b.generate(["p1", "p2"], SamplingParams(n=3, seed=10))
        assert sorted(c.text for c in out[0]) == ["s0", "s1", "s2"]
        assert sorted(c.text for c in out[1]) == ["s0", "s1", "s2"]
        # concurrency 1: p1 with n=3 is rejected (1 request), p2 is not tried with n=3 again,
        # then 2 prompts x 3 single requests = 6 -> 7 requests in all
        assert len(server.requests) == 7 and not b.n_supported
        singles = [r.body for r in server.requests[1:]]
        assert all(s["n"] == 1 for s in singles)
        assert sorted(s["seed"] for s in singles if s["messages"][-1]["content"] == "p1") == [10, 11, 12]


def test_429_then_success_retries_and_honours_retry_after():
    with FakeOpenAIServer(failures={1: 429, 2: 429}, retry_after=0.0) as server:
        out = backend(server).generate(["q"], SamplingParams(n=2))
        assert len(server.requests) == 3  # two 429s, then the answer
    assert [c.text for c in out[0]] == ["sample 0 for: q", "sample 1 for: q"]


def test_500_mid_run_is_retried_and_nothing_lost():
    prompts = [f"problem {k}" for k in range(6)]
    with FakeOpenAIServer(failures={3: 500, 4: 503}) as server:
        out = backend(server, concurrency=3).generate(prompts, SamplingParams(n=2))
        assert len(server.requests) == 8  # 6 prompts + 2 retried failures
    assert [[c.text for c in g] for g in out] == [[f"sample {i} for: {p}" for i in range(2)] for p in prompts]


def test_gives_up_after_max_retries_with_one_line_error():
    with FakeOpenAIServer(failures={1: 500, 2: 500, 3: 500}) as server:
        with pytest.raises(R1Error, match=r"HTTP 500 .*gave up after 3 attempts"):
            backend(server, max_retries=2).generate(["q"], SamplingParams(n=1))


def test_timeout_and_malformed_json_are_retried():
    with FakeOpenAIServer(failures={1: "timeout", 2: "malformed"}, hang_seconds=0.5) as server:
        out = backend(server, timeout=0.1).generate(["q"], SamplingParams(n=1))
        assert out[0][0].text.startswith("sample")
        assert len(server.requests) == 3


def test_client_error_is_not_retried():
    with FakeOpenAIServer(failures={1: 404}) as server:
        with pytest.raises(R1Error, match="HTTP 404"):
            backend(server).generate(["q"], SamplingParams(n=1))
        assert len(server.requests) == 1


def test_api_key_sent_but_never_in_repr_or_errors(monkeypatch):
    secret = "sk-test-SECRET-123"
    monkeypatch.setenv("R1_TEST_KEY", secret)
    with FakeOpenAIServer(api_key=secret) as server:
        b = backend(server, api_key_env="R1_TEST_KEY")
        out = b.generate(["q"], SamplingParams(n=1))
        assert server.requests[0].headers["Authorization"] == f"Bearer {secret}"
        assert secret not in repr(b) and secret not in str(vars(b)) and secret not in repr(out)
        monkeypatch.setenv("R1_TEST_KEY", "wrong")
        with pytest.raises(R1Error) as err:
            b.generate(["q"], SamplingParams(n=1))
        assert "401" in str(err.value) and secret not in str(err.value)


def test_reasoning_field_rebuilt_as_think_block_and_token_ids():
    with FakeOpenAIServer(lambda p, i: "<think>2+2 is 4</think> The answer is 4.", reasoning=True,
                          token_ids=True) as server:
        out = backend(server).generate(["q"], SamplingParams(n=1))
    c = out[0][0]
    assert c.text == "<think>\n2+2 is 4\n</think>\n\nThe answer is 4."
    # the server's token ids cover the whole output, 7 "words": <think>2+2 is 4</think> The answer is 4.
    assert c.token_ids == tuple(range(7)) and c.usage["completion_tokens"] == 7


def test_system_prompt_stop_and_top_k_sent():
    with FakeOpenAIServer() as server:
        backend(server, system_prompt="Be brief.").generate(
            [[{"role": "user", "content": "q"}]], SamplingParams(n=1, stop=("</answer>",), top_k=20))
        body = server.requests[0].body
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["stop"] == ["</answer>"] and body["top_k"] == 20


def test_bad_options():
    with pytest.raises(R1Error, match="endpoint"):
        OpenAIBackend("m", endpoint="embeddings")
    with pytest.raises(R1Error, match="base_url"):
        OpenAIBackend("m", base_url="localhost:8000")


def test_problems_per_call_hint_scales_with_concurrency():
    assert OpenAIBackend("m", concurrency=16).problems_per_call == 64
