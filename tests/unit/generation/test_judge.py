"""The ``judge`` reward (r1cli/rewards/judge.py) against the fake OpenAI-compatible server."""

from __future__ import annotations

import re

import pytest

from r1cli.errors import R1Error
from r1cli.rewards.judge import make_judge_reward, parse_verdict
from tests.helpers.fake_openai_server import FakeOpenAIServer


def fake_grader(prompt: str, index: int) -> str:
    """A judge model that says YES when the candidate equals the reference after removing spaces."""
    ref = re.search(r"Reference answer:\n(.*?)\n\n", prompt, re.S).group(1)
    cand = re.search(r"Candidate's final answer:\n(.*?)\n\n", prompt, re.S).group(1)
    same = ref.replace(" ", "") == cand.replace(" ", "")
    return "<think>compare them</think>\nYES" if same else "NO."


def judge(server, **kw):
    return make_judge_reward(base_url=server.url, model="judge-model", retry_base_delay=0.001, **kw)


def test_yes_no_and_dedup():
    completions = ["<think>so 1/2</think>1/2", "<think>hmm</think> 0.5", "<think>again</think>1/2", "</think>"]
    with FakeOpenAIServer(fake_grader) as server:
        reward = judge(server)
        scores = reward(completions, answer=["1 / 2"] * 4, problem=["half?"] * 4)
        # "1/2" twice -> one request; "0.5" -> one request; the empty final answer needs none
        assert len(server.requests) == 2
        body = server.requests[0].body
        assert body["temperature"] == 0.0 and body["n"] == 1
        assert "Problem:\nhalf?" in body["messages"][1]["content"]
    assert scores == [1.0, 0.0, 1.0, 0.0]


def test_missing_gold_is_none_and_column_required():
    with FakeOpenAIServer(fake_grader) as server:
        reward = judge(server)
        assert reward(["x"], answer=[None]) == [None]
        assert server.requests == []
        with pytest.raises(R1Error, match="column 'answer'"):
            reward(["x"])


def test_none_after_retries_fail():
    with FakeOpenAIServer(fake_grader, failures={1: 500, 2: 500, 3: 429}) as server:
        reward = judge(server, max_retries=2)
        assert reward(["4"], answer=["4"]) == [None]  # 3 attempts, all failed
        assert len(server.requests) == 3 and reward.failures == 1
        assert reward(["5"], answer=["4"]) == [0.0]  # the server is back


def test_retry_then_success():
    with FakeOpenAIServer(fake_grader, failures={1: 429}) as server:
        assert judge(server)(["7"], answer=["7"]) == [1.0]
        assert len(server.requests) == 2


def test_bad_key_is_a_setup_error(monkeypatch):
    monkeypatch.setenv("JUDGE_KEY", "wrong-key")
    with FakeOpenAIServer(fake_grader, api_key="right-key") as server:
        with pytest.raises(R1Error, match="401") as err:
            judge(server, api_key_env="JUDGE_KEY")(["1"], answer=["1"])
    assert "wrong-key" not in str(err.value)


def test_unparseable_reply_is_none():
    with FakeOpenAIServer(lambda p, i: "I cannot tell") as server:
        assert judge(server)(["1"], answer=["2"]) == [None]


@pytest.mark.parametrize("reply,expected", [
    ("YES", 1.0), ("no", 0.0), ("**Yes**.", 1.0), ("<think>yes? no wait</think> NO", 0.0),
    ("Answer: no. Actually yes", 1.0), ("maybe", None), ("", None), ("Yesterday", None),
])
def test_parse_verdict(reply, expected):
    assert parse_verdict(reply) == expected


def test_registered_lazily():
    from r1cli.rewards import get_reward

    with FakeOpenAIServer(fake_grader) as server:
        reward = get_reward("judge", base_url=server.url, model="m", retry_base_delay=0.001)
        assert reward(["3"], answer=["3"]) == [1.0]
