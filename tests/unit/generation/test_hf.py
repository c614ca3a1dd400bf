"""The hf backend on the real tiny model: shapes, seeds, stop strings, length cuts, EOS, log-probs."""

from __future__ import annotations

import pytest

from r1cli.errors import R1Error
from r1cli.generation.base import SamplingParams


def _texts(groups):
    return [[c.text for c in g] for g in groups]


def test_shapes_n_per_prompt(tiny_backend, chat_prompts):
    params = SamplingParams(n=3, temperature=1.0, top_p=0.95, max_new_tokens=12, seed=0)
    out = tiny_backend.generate(chat_prompts, params)
    assert len(out) == 2 and all(len(g) == 3 for g in out)
    for group in out:
        for c in group:
            assert 1 <= len(c.token_ids) <= 12
            assert c.logprobs is not None and len(c.logprobs) == len(c.token_ids)
            assert all(lp <= 0.0 for lp in c.logprobs)
            assert c.finish_reason in ("stop", "length")
            assert c.num_tokens == len(c.token_ids)


def test_same_seed_same_text_other_seed_differs(tiny_backend, chat_prompts):
    params = SamplingParams(n=2, temperature=1.0, top_p=1.0, max_new_tokens=16, seed=7)
    first = tiny_backend.generate(chat_prompts, params)
    again = tiny_backend.generate(chat_prompts, params)
    other = tiny_backend.generate(chat_prompts, SamplingParams(n=2, temperature=1.0, top_p=1.0,
                                                               max_new_tokens=16, seed=8))
    assert _texts(first) == _texts(again)
    assert [[c.token_ids for c in g] for g in first] == [[c.token_ids for c in g] for g in again]
    # a random 512-token model sampling 16 tokens: two seeds agreeing on all 4 rows is ~impossible
    assert _texts(first) != _texts(other)


def test_length_cut_sets_finish_reason_length(tiny_backend, chat_prompts):
    out = tiny_backend.generate(chat_prompts, SamplingParams(n=2, temperature=1.0, max_new_tokens=5, seed=3))
    for c in (c for g in out for c in g):
        assert len(c.token_ids) == 5 and c.finish_reason == "length"


def test_stop_string_truncates_and_stops(tiny_backend, chat_prompts):
    prompt = chat_prompts[:1]
    base = SamplingParams(n=1, temperature=1.0, top_p=1.0, max_new_tokens=24, seed=11)
    full = tiny_backend.generate(prompt, base)[0][0]
    tok = tiny_backend.tokenizer
    # pick a printable ASCII token from the middle of the free run as the stop string
    stop = next(
        s for k in range(3, len(full.token_ids))
        if (s := tok.decode([full.token_ids[k]])).strip() and s.isascii() and s.isprintable()
    )
    cut_at = full.text.find(stop)
    stopped = tiny_backend.generate(prompt, SamplingParams(**{**base.__dict__, "stop": (stop,)}))[0][0]
    assert stopped.finish_reason == "stop"
    assert stopped.text == full.text[:cut_at]  # same seed: identical draws up to the stop
    assert stop not in stopped.text
    n = len(stopped.token_ids)
    assert stopped.token_ids == full.token_ids[:n] and n < len(full.token_ids)
    assert stop in tok.decode(list(stopped.token_ids))  # the stop-completing token is kept in the ids


def test_eos_ends_row_with_stop(tiny_backend, chat_prompts, monkeypatch):
    eos = tiny_backend.tokenizer.eos_token_id
    real_forward = tiny_backend._forward

    def eos_after_two(input_ids, mask, positions, cache):
        logits = real_forward(input_ids, mask, positions, cache)
        if mask.shape[1] - mask_width[0] >= 2:  # from the third new token on, force EOS
            logits[:, eos] += 1e4
        return logits

    mask_width = [0]

    def first_forward(input_ids, mask, positions, cache):
        mask_width[0] = mask.shape[1]
        tiny_backend._forward = eos_after_two
        return real_forward(input_ids, mask, positions, cache)

    monkeypatch.setattr(tiny_backend, "_forward", first_forward)
    out = tiny_backend.generate(chat_prompts, SamplingParams(n=2, temperature=1.0, max_new_tokens=10, seed=0))
    monkeypatch.setattr(tiny_backend, "_forward", real_forward)
    for c in (c for g in out for c in g):
        # tokens 1-2 free, token 3 is EOS: kept in ids (GRPO trains on it), not in the text
        assert len(c.token_ids) == 3 and c.token_ids[-1] == eos and c.finish_reason == "stop"
        assert c.text == tiny_backend.tokenizer.decode(list(c.token_ids[:2]))


@pytest.mark.parametrize("temperature,top_k,top_p", [(0.7, 50, 0.9), (1.0, 0, 1.0), (0.0, 0, 1.0)])
def test_logprobs_match_separate_forward(tiny_backend, chat_prompts, temperature, top_k, top_p):
    import torch

    params = SamplingParams(n=2, temperature=temperature, top_k=top_k, top_p=top_p, max_new_tokens=10, seed=5)
    out = tiny_backend.generate(chat_prompts, params)
    scale = temperature if temperature > 0 else 1.0
    tok, model = tiny_backend.tokenizer, tiny_backend.model
    for prompt, group in zip(chat_prompts, out, strict=True):
        prompt_ids = tok(tiny_backend.render(prompt), add_special_tokens=False)["input_ids"]
        for c in group:
            ids = torch.tensor([prompt_ids + list(c.token_ids)])
            with torch.no_grad():
                logits = model(ids).logits[0].float()  # [P + T, V], no padding, no cache
            logp = torch.log_softmax(logits[len(prompt_ids) - 1:-1] / scale, dim=-1)  # predicts tokens 0..T-1
            expected = logp.gather(-1, torch.tensor(c.token_ids).unsqueeze(-1)).squeeze(-1)
            assert torch.allclose(torch.tensor(c.logprobs), expected, atol=1e-4)


def test_shared_prefill_rows_match_their_own_prompt(tiny_backend, chat_prompts):
    """n > 1 runs each distinct prompt's prefill once and copies its cache to the n rows: greedy rows
    must equal what that prompt gives alone (n = 1, no sharing)."""
    alone = [tiny_backend.generate([p], SamplingParams(n=1, temperature=0.0, max_new_tokens=10))[0][0]
             for p in chat_prompts]
    shared = tiny_backend.generate(chat_prompts, SamplingParams(n=3, temperature=0.0, max_new_tokens=10))
    for one, group in zip(alone, shared, strict=True):
        for c in group:
            assert c.token_ids == one.token_ids
            assert max(abs(a - b) for a, b in zip(c.logprobs, one.logprobs, strict=True)) < 1e-4


@pytest.mark.parametrize("cache", ["dynamic", "static"])
def test_static_engine_matches_loop_engine_greedy(tiny_backend, chat_prompts, cache):
    """The GPU path (``generate`` + recorder) checked on CPU, where transformers does not compile."""
    from r1cli.generation import decoding
    from r1cli.generation.hf_static import generate_static

    params = SamplingParams(n=1, temperature=0.0, max_new_tokens=8, seed=0)
    loop = tiny_backend.generate(chat_prompts, params)
    ids = [tiny_backend.tokenizer(tiny_backend.render(p), add_special_tokens=False)["input_ids"]
           for p in chat_prompts]
    rows = generate_static(tiny_backend, ids, params, seed=0, cache=cache)
    for (tokens, lps), group in zip(rows, loop, strict=True):
        got = decoding.finalize(tiny_backend.tokenizer, tokens, lps, eos_ids=tiny_backend.eos_ids, stop=())
        assert got.token_ids == group[0].token_ids
        assert max(abs(a - b) for a, b in zip(got.logprobs, group[0].logprobs, strict=True)) < 1e-4


def test_token_budget_batches_and_results_do_not_depend_on_it(tiny_model_dir, tiny_backend, chat_prompts):
    from r1cli.generation.hf import HFBackend

    small = HFBackend(tiny_backend.model, tiny_backend.tokenizer, token_budget=1)
    rows = [(0, [1] * 10), (1, [1] * 7), (2, [1] * 3)]
    # budget 40, max_new 10: rows of 10 tokens cost 20 each -> two fit; the third starts a new batch
    small.token_budget = 40
    assert list(small._batches([0, 1, 2], rows, 10)) == [[0, 1], [2]]
    small.token_budget = 1  # below one row: still one row per batch
    assert list(small._batches([0, 1, 2], rows, 10)) == [[0], [1], [2]]
    greedy = SamplingParams(n=2, temperature=0.0, max_new_tokens=6)
    assert _texts(small.generate(chat_prompts, greedy)) == _texts(tiny_backend.generate(chat_prompts, greedy))


def test_loaded_model_shared_and_training_mode_restored(tiny_backend, chat_prompts):
    from r1cli.generation.hf import HFBackend

    model = tiny_backend.model
    model.train()
    shared = HFBackend(model, tiny_backend.tokenizer)
    shared.generate(chat_prompts[:1], SamplingParams(n=1, max_new_tokens=2))
    assert model.training
    model.eval()
    shared.update_weights(model)  # the same object: nothing to copy
    with pytest.raises(R1Error, match="tokenizer"):
        HFBackend(model)


def test_render_system_prompt_and_think_prefill(tiny_backend):
    from r1cli.generation.hf import HFBackend

    b = HFBackend(tiny_backend.model, tiny_backend.tokenizer, system_prompt="Be brief.", think_prefill=True)
    text = b.render([{"role": "user", "content": "hi"}])
    assert text == ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
                    "<|im_start|>assistant\n<think>\n")
    assert b.render("raw text") == "raw text"  # plain strings are already templated


def test_user_errors(tiny_backend, tmp_path):
    from r1cli.generation.hf import HFBackend

    with pytest.raises(R1Error, match="engine"):
        HFBackend(tiny_backend.model, tiny_backend.tokenizer, engine="fast")
    with pytest.raises(R1Error, match="no model directory"):
        HFBackend(str(tmp_path / "nope"))
    with pytest.raises(R1Error, match="max_position_embeddings"):
        tiny_backend.generate(["x " * 400], SamplingParams(n=1, max_new_tokens=2))


def test_batch_rows_capped_by_position_range(tiny_backend):
    """max_new_tokens=32768 on a 256-position model: a row costs at most 256 tokens of the budget."""
    from r1cli.generation.hf import HFBackend

    b = HFBackend(tiny_backend.model, tiny_backend.tokenizer, token_budget=1024)
    rows = [(i, [1] * 10) for i in range(6)]
    # 10 + 32768 capped to 256 per row -> 1024 // 256 = 4 rows per batch
    assert [len(x) for x in b._batches(list(range(6)), rows, 32768)] == [4, 2]
