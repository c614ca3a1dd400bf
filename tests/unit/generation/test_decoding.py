"""Sampling math and row finalisation, on hand-made numbers."""

from __future__ import annotations

import math

import pytest

from r1cli.generation.decoding import filter_top_k_top_p, finalize, sample_tokens


def _logits(*probs):
    import torch

    return torch.tensor([[math.log(p) for p in probs]])


def _kept(row):
    return [i for i, x in enumerate(row.tolist()) if x != float("-inf")]


def test_top_p_nucleus():
    # probs 0.5, 0.3, 0.2: mass before each token = 0, 0.5, 0.8
    logits = _logits(0.5, 0.3, 0.2)
    assert _kept(filter_top_k_top_p(logits, 0, 0.7)[0]) == [0, 1]  # 0.8 >= 0.7 drops the third
    assert _kept(filter_top_k_top_p(logits, 0, 0.5)[0]) == [0]  # 0.5 >= 0.5: the first alone reaches p
    assert _kept(filter_top_k_top_p(logits, 0, 1.0)[0]) == [0, 1, 2]


def test_top_p_keeps_vocab_order():
    # probs 0.2, 0.5, 0.3 (unsorted): nucleus 0.7 keeps tokens 1 (0.5) and 2 (0.3)
    assert _kept(filter_top_k_top_p(_logits(0.2, 0.5, 0.3), 0, 0.7)[0]) == [1, 2]


def test_top_k():
    assert _kept(filter_top_k_top_p(_logits(0.2, 0.5, 0.3), 2, 1.0)[0]) == [1, 2]
    assert _kept(filter_top_k_top_p(_logits(0.2, 0.5, 0.3), 1, 1.0)[0]) == [1]


def test_greedy_logprob_is_untempered_log_softmax():
    tokens, logps = sample_tokens(_logits(0.2, 0.5, 0.3), temperature=0.0, top_k=0, top_p=1.0)
    assert tokens.tolist() == [1]
    assert logps.tolist() == pytest.approx([math.log(0.5)], abs=1e-6)


def test_sampled_logprob_is_temperature_scaled_full_vocab():
    import torch

    # probs 0.2, 0.5, 0.3 at T = 0.5: p_i^2 / sum p^2 = 0.25 / (0.04 + 0.25 + 0.09) = 0.25 / 0.38;
    # top_k=1 forces token 1, but its reported log-prob is still over the full tempered vocabulary
    gen = torch.Generator().manual_seed(0)
    tokens, logps = sample_tokens(_logits(0.2, 0.5, 0.3), temperature=0.5, top_k=1, top_p=1.0, generator=gen)
    assert tokens.tolist() == [1]
    assert logps.tolist() == pytest.approx([math.log(0.25 / 0.38)], abs=1e-5)


class _CharTok:
    """Token id = ord(char); id 0 is EOS."""

    def decode(self, ids, **_):
        return "".join(chr(i) for i in ids)


def test_finalize_eos_kept_in_ids_not_text():
    ids = [ord("a"), ord("b"), 0, ord("c")]
    c = finalize(_CharTok(), ids, [-1.0, -2.0, -3.0, -4.0], eos_ids={0}, stop=())
    assert (c.text, c.token_ids, c.logprobs, c.finish_reason) == ("ab", (97, 98, 0), (-1.0, -2.0, -3.0), "stop")


def test_finalize_stop_string_cuts_text_and_ids():
    ids = [ord(ch) for ch in "x=1\n\ny=2"]
    c = finalize(_CharTok(), ids, None, eos_ids={0}, stop=("\n\n", "y"))
    # "\n\n" completes at the 5th token (index 4); text ends before it; "y" comes later
    assert c.text == "x=1" and c.token_ids == tuple(ids[:5]) and c.finish_reason == "stop"
    assert c.logprobs is None


def test_finalize_length():
    c = finalize(_CharTok(), [97, 98], [-0.5, -0.25], eos_ids={0}, stop=("z",))
    assert (c.text, c.finish_reason, c.logprobs) == ("ab", "length", (-0.5, -0.25))
