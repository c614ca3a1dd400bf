"""Chat rendering for SFT: assistant-only loss masks, record formats, ChatML fallback, max_length policy."""

from __future__ import annotations

import pytest

from r1cli.data.chat import (
    CHATML_TEMPLATE,
    end_of_turn_text,
    ensure_chat_template,
    record_messages,
    tokenize_dataset,
    tokenize_record,
)
from r1cli.errors import R1Error


@pytest.fixture(scope="module")
def tok():
    from r1cli.models.tiny import build_tiny_tokenizer

    return build_tiny_tokenizer(records_per_task=20)


def _masked_text(tok, ex):
    return tok.decode([i for i, m in zip(ex.input_ids, ex.loss_mask, strict=True) if m])


def test_mask_covers_exactly_the_assistant_turn(tok):
    msgs = [{"role": "user", "content": "What is 1 + 5?"},
            {"role": "assistant", "content": "<think>\n1+5=6\n</think>\n\\boxed{6}"}]
    ex = tokenize_record(tok, msgs, end_of_turn=end_of_turn_text(tok))
    # trained: the answer text and the <|im_end|> that ends the turn; not the header, not the "\n" after
    assert _masked_text(tok, ex) == "<think>\n1+5=6\n</think>\n\\boxed{6}<|im_end|>"
    # the unmasked prefix is exactly the inference prompt (add_generation_prompt=True)
    prompt = tok.apply_chat_template(msgs[:1], add_generation_prompt=True, tokenize=False)
    first = ex.loss_mask.index(1)
    assert tok.decode(ex.input_ids[:first]) == prompt
    assert tok.decode(ex.input_ids) == tok.apply_chat_template(msgs, tokenize=False)


def test_multi_turn_trains_every_assistant_turn(tok):
    msgs = [{"role": "system", "content": "S"}, {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"},
            {"role": "assistant", "content": "d"}]
    ex = tokenize_record(tok, msgs, end_of_turn="<|im_end|>")
    assert _masked_text(tok, ex) == "b<|im_end|>d<|im_end|>"


def test_prompt_completion_records_and_system_prompt():
    rec = {"q": "2+2?", "a": "4"}
    msgs = record_messages(rec, prompt_field="q", completion_field="a", system_prompt="Think.")
    assert msgs == [{"role": "system", "content": "Think."}, {"role": "user", "content": "2+2?"},
                    {"role": "assistant", "content": "4"}]
    with pytest.raises(R1Error, match="fields present: a, q"):
        record_messages(rec)
    with pytest.raises(R1Error, match="no assistant"):
        record_messages({"messages": [{"role": "user", "content": "x"}]})
    with pytest.raises(R1Error, match="role 'bot'"):
        record_messages({"messages": [{"role": "bot", "content": "x"}]}, where="f.jsonl record 3")


def test_max_length_policies_and_counts(tok):
    short = {"messages": [{"role": "user", "content": "1"}, {"role": "assistant", "content": "2"}]}
    long = {"messages": [{"role": "user", "content": "1"}, {"role": "assistant", "content": "9" * 40}]}
    lens = [len(tokenize_record(tok, record_messages(r)).input_ids) for r in (short, long)]
    limit = lens[0] + 5
    assert lens[1] > limit
    kept, stats = tokenize_dataset([short, long], tok, max_length=limit, truncation="drop")
    assert (stats.kept, stats.dropped_too_long, stats.truncated) == (1, 1, 0)
    kept, stats = tokenize_dataset([short, long], tok, max_length=limit, truncation="truncate")
    assert (stats.kept, stats.truncated) == (2, 1) and len(kept[1].input_ids) == limit
    # truncated inside the prompt: no assistant token left -> left out and counted
    kept, stats = tokenize_dataset([long], tok, max_length=3, truncation="truncate")
    assert (stats.kept, stats.dropped_no_loss_tokens) == (0, 1)


def test_chatml_fallback_adds_tokens_and_sets_eos(tok):
    from transformers import PreTrainedTokenizerFast

    bare = PreTrainedTokenizerFast(tokenizer_object=tok.backend_tokenizer.__class__.from_str(
        tok.backend_tokenizer.to_str()))
    bare.chat_template = None
    assert ensure_chat_template(bare) is False  # <|im_start|>/<|im_end|> already in this vocab
    assert bare.chat_template == CHATML_TEMPLATE and bare.eos_token == "<|im_end|>"
    assert end_of_turn_text(bare) == "<|im_end|>"
    assert ensure_chat_template(bare) is False  # has a template now: untouched


def test_chatml_fallback_on_a_vocab_without_chatml_tokens():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.WordLevel({"[UNK]": 0, "a": 1, "b": 2}, unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    t = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]")
    assert ensure_chat_template(t) is True  # 2 tokens added: the caller resizes the embeddings
    assert len(t) == 5 and t.eos_token == "<|im_end|>" and t.pad_token == "<|im_end|>"
    ex = tokenize_record(t, [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
                         end_of_turn=end_of_turn_text(t))
    assert [t.convert_ids_to_tokens(i) for i, m in zip(ex.input_ids, ex.loss_mask, strict=True) if m] == [
        "b", "<|im_end|>"]
