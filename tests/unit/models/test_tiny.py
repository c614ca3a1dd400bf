"""The tiny tokenizer and model: digits split, chat template, EOS, save/load offline, generation."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from r1cli.errors import R1Error  # noqa: E402
from r1cli.models.tiny import (  # noqa: E402
    CHAT_TEMPLATE,
    IM_END,
    build_tiny_model,
    build_tiny_tokenizer,
    count_parameters,
    init_tiny,
)


@pytest.fixture(scope="module")
def tokenizer():
    # 2 shared cores: torch's intra-op threads spin against other processes; one thread is faster.
    torch.set_num_threads(1)
    return build_tiny_tokenizer()


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    torch.set_num_threads(1)
    return init_tiny(
        tmp_path_factory.mktemp("tiny"), hidden_size=64, num_layers=2, intermediate_size=128, seed=1
    )


def test_digits_are_split_one_per_token(tokenizer):
    assert tokenizer.tokenize("12345") == ["1", "2", "3", "4", "5"]
    # inside text too: 6 digits of "12+34=46" are 6 tokens, none merged with another digit
    pieces = tokenizer.tokenize("What is 12+34=46?")
    assert sum(p.isdigit() for p in pieces) == 6
    assert all(len(p) == 1 for p in pieces if any(ch.isdigit() for ch in p))


def test_vocab_special_tokens_and_roundtrip(tokenizer):
    assert len(tokenizer) <= 512
    assert tokenizer.eos_token == IM_END and tokenizer.pad_token == "<|endoftext|>"
    text = "<think>\n12+34=46\n</think>\n\\boxed{46} Ünïcode ✓ any text"
    ids = tokenizer.encode(text, add_special_tokens=False)
    for marker in ("<think>", "</think>", "<answer>", "</answer>", "<|im_start|>", IM_END):
        assert len(tokenizer.encode(marker, add_special_tokens=False)) == 1  # atomic
    assert tokenizer.decode(ids) == text
    # reasoning markers are not "special": skip_special_tokens keeps them (format rewards need them)
    with_eos = ids + [tokenizer.eos_token_id]
    assert tokenizer.decode(with_eos, skip_special_tokens=True) == text


def test_tokenizer_is_deterministic(tokenizer):
    assert build_tiny_tokenizer().get_vocab() == tokenizer.get_vocab()


def test_chat_template_and_assistant_mask(tokenizer):
    messages = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "What is 1 + 2?"},
        {"role": "assistant", "content": "<think>\n1+2=3\n</think>\n\\boxed{3}"},
    ]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    assert text == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nWhat is 1 + 2?<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n1+2=3\n</think>\n\\boxed{3}<|im_end|>\n"
    )
    prompt = tokenizer.apply_chat_template(messages[1:2], tokenize=False, add_generation_prompt=True)
    assert prompt == "<|im_start|>user\nWhat is 1 + 2?<|im_end|>\n<|im_start|>assistant\n"
    out = tokenizer.apply_chat_template(
        messages[1:], tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    masked = [t for t, m in zip(out["input_ids"], out["assistant_masks"], strict=True) if m]
    # the mask covers exactly the assistant content plus its closing <|im_end|>
    assert tokenizer.decode(masked) == messages[2]["content"] + IM_END


def test_parameter_count_and_eos(tokenizer):
    model = build_tiny_model(tokenizer)
    vocab = len(tokenizer)
    # tied embeddings vocab*128; per layer q,k,v,o = 128*128 + 128*64 + 128*64 + 128*128 = 49,152
    # + q,k,v biases 128+64+64 = 256 + MLP 3*128*512 = 196,608 + two norms 256 -> 246,272;
    # final norm 128.
    assert count_parameters(model) == vocab * 128 + 3 * 246_272 + 128
    assert 700_000 <= count_parameters(model) <= 900_000
    eos = tokenizer.eos_token_id
    assert model.config.eos_token_id == model.generation_config.eos_token_id == eos
    assert model.config.pad_token_id == model.generation_config.pad_token_id == tokenizer.pad_token_id


def test_model_init_is_seeded_and_leaves_global_rng(tokenizer):
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = build_tiny_model(tokenizer, hidden_size=32, num_layers=1, intermediate_size=64, seed=5)
    assert torch.equal(torch.rand(1), expected_next)  # global RNG stream untouched
    b = build_tiny_model(tokenizer, hidden_size=32, num_layers=1, intermediate_size=64, seed=5)
    c = build_tiny_model(tokenizer, hidden_size=32, num_layers=1, intermediate_size=64, seed=6)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_bad_sizes_raise(tokenizer):
    with pytest.raises(R1Error, match="num_heads"):
        build_tiny_model(tokenizer, hidden_size=130, num_heads=4)
    with pytest.raises(R1Error, match="vocab_size"):
        build_tiny_tokenizer(vocab_size=100)


def test_save_load_offline_identical_logits(tiny_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from r1cli.models.tiny import build_tiny_model as build

    names = {p.name for p in tiny_dir.iterdir()}
    assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json"} <= names
    assert (tiny_dir / "chat_template.jinja").read_text() == CHAT_TEMPLATE
    tok = AutoTokenizer.from_pretrained(tiny_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir, local_files_only=True).eval()
    assert model.config.model_type == "qwen2"
    fresh = build(tok, hidden_size=64, num_layers=2, intermediate_size=128, seed=1)  # what init_tiny saved
    ids = torch.tensor([tok.encode("What is 12 + 34?", add_special_tokens=False)])
    with torch.no_grad():
        assert torch.equal(model(ids).logits, fresh(ids).logits)
    assert tok.chat_template == CHAT_TEMPLATE and tok.eos_token == IM_END
    assert model.generation_config.eos_token_id == tok.eos_token_id


def test_loaded_tokenizer_matches_the_built_one(tokenizer, tiny_dir):
    """transformers 5 loads qwen2 dirs with Qwen2Tokenizer, which rebuilds the pre-tokenizer: it
    must rebuild the very pipeline we trained with, or save/load would change tokenization."""
    from transformers import AutoTokenizer

    loaded = AutoTokenizer.from_pretrained(tiny_dir, local_files_only=True)
    assert loaded.get_vocab() == tokenizer.get_vocab()
    assert loaded.tokenize("12345") == ["1", "2", "3", "4", "5"]
    texts = [
        "What is 12 + 34 - 7?",
        "Using 1, 19, 20 once each with + - * /, make 7.",
        "<think>\n12+34=47. Wait, 12+34=46.\n</think>\n\\boxed{46}",
        "It's  \t tabs, -12 ab12cd 3.14159 x^2 café ✓\n\n\nend",
    ]
    for text in texts:
        ids = tokenizer.encode(text, add_special_tokens=False)
        assert loaded.encode(text, add_special_tokens=False) == ids
        assert loaded.decode(ids + [loaded.eos_token_id], skip_special_tokens=True) == text
    assert loaded.padding_side == "left" and loaded.eos_token == IM_END


def test_generates_through_chat_template(tiny_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir, local_files_only=True).eval()
    prompts = [[{"role": "user", "content": "What is 1 + 2?"}], [{"role": "user", "content": "Hi"}]]
    enc = tok.apply_chat_template(
        prompts, add_generation_prompt=True, return_tensors="pt", return_dict=True, padding=True
    )
    out = model.generate(**enc, max_new_tokens=6, do_sample=False)
    assert out.shape[0] == 2 and 1 <= out.shape[1] - enc["input_ids"].shape[1] <= 6
    texts = tok.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    assert all(isinstance(t, str) for t in texts)
