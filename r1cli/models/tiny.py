"""The tiny model of the tiny world: a locally trained tokenizer and a ~0.8M-parameter Qwen2.

Nothing here touches the hub. The tokenizer is a byte-level BPE (so any text tokenizes) trained on
text from the built-in tasks, with digits split one per token: measured on this project's CPU, a
0.8M model with digit-splitting BPE learns 2-digit addition to ~99% in two minutes, while one whose
BPE merges digits stalls near 15% (shared/reference/feasibility.md §5). The model is an ordinary
``Qwen2ForCausalLM``; :func:`init_tiny` saves both as a normal HF directory.

torch/transformers/tokenizers are imported inside functions: ``r1 --help`` never pays for them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ENDOFTEXT = "<|endoftext|>"  # pad
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"  # eos: ends every chat turn, so generation stops after the answer
SPECIAL_TOKENS = [ENDOFTEXT, IM_START, IM_END]
# Reasoning markers: atomic tokens, but not "special", so decode(skip_special_tokens=True) keeps
# them and format rewards can see them (as in DeepSeek-R1 / Qwen tokenizers).
REASONING_TOKENS = ["<think>", "</think>", "<answer>", "</answer>"]

# ChatML. The {% generation %} block marks assistant tokens, so
# apply_chat_template(..., return_assistant_tokens_mask=True) gives the SFT loss mask.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- generation -%}{{- message['content'] + '<|im_end|>' -}}{%- endgeneration -%}"
    "{{- '\\n' -}}"
    "{%- else -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

# The pre-tokenizer is Qwen2's (NFC, this split pattern, then bytes), not e.g. Digits + ByteLevel:
# transformers >= 5 loads every ``model_type: qwen2`` directory with ``Qwen2Tokenizer``, which rebuilds
# exactly this pipeline from the saved vocab and merges, so any other pipeline would tokenize
# differently after save/load. It splits digits individually, like Digits(individual_digits=True).
SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

_GENERAL_TEXT = [
    "Please reason step by step, and put your final answer within \\boxed{}.",
    "You are a helpful assistant. Think first, then answer.",
    "The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG.",
    "".join(chr(c) for c in range(32, 127)),
]


def _corpus(records_per_task: int, seed: int) -> list[str]:
    """ChatML-formatted task conversations plus some general ASCII, for BPE training."""
    import random

    from r1cli.tasks import TASKS

    texts = list(_GENERAL_TEXT)
    for name in sorted(TASKS):
        task = TASKS[name]
        for record in task.generate(records_per_task, seed):
            rng = random.Random(record["id"])
            texts.append(
                f"{IM_START}user\n{task.prompt(record)}{IM_END}\n"
                f"{IM_START}assistant\n{task.teacher(record, rng)}{IM_END}\n"
            )
    return texts


def build_tiny_tokenizer(
    *, vocab_size: int = 512, records_per_task: int = 500, seed: int = 0, model_max_length: int = 1024
) -> Any:
    """Train a byte-level BPE on tiny-task text; return a ``PreTrainedTokenizerFast``.

    ``vocab_size`` is an upper bound on everything (256 bytes + merges + 3 special + 4 reasoning
    tokens); training stops earlier when no pair occurs twice (365 with the default corpus).
    Digits are always split one per token: the split pattern's only rule that matches a digit
    is ``\\p{N}`` (one character), so no pre-token, and hence no merge, holds two digits.
    eos = ``<|im_end|>``,
    pad = ``<|endoftext|>``, no bos; the chat template is ChatML.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    from r1cli.errors import R1Error

    floor = 256 + len(SPECIAL_TOKENS) + len(REASONING_TOKENS)
    if not floor <= vocab_size <= 65536:
        raise R1Error(f"tiny tokenizer: vocab_size must be in [{floor}, 65536], got {vocab_size}")
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(REASONING_TOKENS),
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(records_per_task, seed), trainer=trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in REASONING_TOKENS])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=IM_END,
        pad_token=ENDOFTEXT,
        chat_template=CHAT_TEMPLATE,
        model_max_length=model_max_length,
        padding_side="left",  # decoder-only generation pads on the left
        clean_up_tokenization_spaces=False,
    )


def build_tiny_model(
    tokenizer: Any,
    *,
    hidden_size: int = 128,
    num_layers: int = 3,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 512,
    max_position_embeddings: int = 1024,
    rope_theta: float = 10000.0,
    seed: int = 0,
) -> Any:
    """A freshly initialised ``Qwen2ForCausalLM`` sized for CPU demos (fp32, tied embeddings).

    Defaults give ~0.8M parameters: tied embeddings V*128 and per layer attention
    128*(128+64+64+128) + biases 256 + MLP 3*128*512 + norms 256 = 246,272, so V*128 + 3*246,272
    + 128 (final norm); the default tokenizer stops at V = 365 (its corpus has no more pairs seen
    twice), giving 785,664. Initialisation is seeded and leaves the global
    torch RNG untouched. eos/pad ids come from ``tokenizer`` and are copied into the generation
    config.
    """
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    from r1cli.errors import R1Error

    if hidden_size % num_heads or num_heads % num_kv_heads:
        raise R1Error(
            f"tiny model: hidden_size ({hidden_size}) must divide by num_heads ({num_heads}) "
            f"and num_heads by num_kv_heads ({num_kv_heads})"
        )
    eos_id = tokenizer.convert_tokens_to_ids(IM_END)
    pad_id = tokenizer.convert_tokens_to_ids(ENDOFTEXT)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=max_position_embeddings,
        rope_parameters={"rope_type": "default", "rope_theta": float(rope_theta)},
        tie_word_embeddings=True,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        bos_token_id=None,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=eos_id, pad_token_id=pad_id, bos_token_id=None)
    return model.eval()


def init_tiny(
    output_dir: str | os.PathLike,
    *,
    vocab_size: int = 512,
    hidden_size: int = 128,
    num_layers: int = 3,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 512,
    max_position_embeddings: int = 1024,
    rope_theta: float = 10000.0,
    seed: int = 0,
) -> Path:
    """Build the tiny tokenizer and model and save both to ``output_dir`` (an HF model dir).

    ``AutoTokenizer.from_pretrained(dir)`` / ``AutoModelForCausalLM.from_pretrained(dir)`` load it
    offline. Same arguments -> byte-identical files. ``seed`` seeds the weights only: every tiny
    model shares one tokenizer (for a given ``vocab_size``), so checkpoints stay comparable.
    """
    from r1cli.data.rundir import check_output_path

    check_output_path(output_dir, "--output")
    tokenizer = build_tiny_tokenizer(vocab_size=vocab_size, model_max_length=max_position_embeddings)
    model = build_tiny_model(
        tokenizer,
        hidden_size=hidden_size,
        num_layers=num_layers,
        num_heads=num_heads,
        num_kv_heads=num_kv_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_position_embeddings,
        rope_theta=rope_theta,
        seed=seed,
    )
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out)
    model.save_pretrained(out)
    return out


def count_parameters(model: Any) -> int:
    """Number of distinct parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in model.parameters())
