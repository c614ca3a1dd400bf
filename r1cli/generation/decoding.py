"""Token-level sampling math and row finalisation shared by the hf engines.

Log-probability convention (what :attr:`Completion.logprobs` holds for the hf backend): the log-prob of
each sampled token under the **temperature-scaled, full-vocabulary** softmax,
``log_softmax(logits / T)[token]`` (``T = 1`` for greedy decoding, ``temperature == 0``), computed in
fp32 *before* top-k/top-p filtering. That is exactly what a GRPO trainer recomputes with one forward pass
over ``prompt + completion`` (``log_softmax(logits / T)`` gathered at the completion tokens), so old and
new log-probs are comparable token for token. Top-k/top-p only decide which tokens may be drawn; with
``top_p = 1`` and ``top_k = 0`` the reported log-prob is also the exact sampling log-prob. vLLM reports
the same quantity by default (``logprobs_mode="raw_logprobs"`` is *not* temperature-scaled there, see
``vllm_backend.py``).
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Sequence
from typing import Any

from r1cli.generation.base import Completion


def filter_top_k_top_p(scaled: Any, top_k: int, top_p: float) -> Any:
    """Mask logits outside the top-k set and outside the top-p nucleus with ``-inf``.

    ``scaled``: [B, V] float logits already divided by the temperature. ``top_k = 0`` and ``top_p >= 1``
    disable the respective filter. The nucleus keeps the smallest set of most-probable tokens whose
    probability mass reaches ``top_p`` (always at least the most probable token). Returns [B, V].
    """
    import torch

    if top_k and 0 < top_k < scaled.shape[-1]:
        kth = torch.topk(scaled, top_k, dim=-1).values[..., -1:]  # [B, 1] k-th largest logit
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(scaled, dim=-1, descending=True)  # [B, V]
        probs = torch.softmax(sorted_logits, dim=-1)  # [B, V]
        mass_before = torch.cumsum(probs, dim=-1) - probs  # [B, V] mass of strictly more probable tokens
        drop_sorted = mass_before >= top_p  # [B, V]; the first token has mass_before 0, never dropped
        drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
        scaled = scaled.masked_fill(drop, float("-inf"))
    return scaled


def sample_tokens(
    logits: Any,
    *,
    temperature: float,
    top_k: int,
    top_p: float,
    generator: Any = None,
) -> tuple[Any, Any]:
    """Draw one token per row and return ``(tokens [B] long, logprobs [B] float32)``.

    ``logits``: [B, V] next-token logits. ``temperature == 0`` is greedy (argmax, log-probs at T = 1).
    Log-probs follow the module convention (temperature-scaled full-vocab log-softmax).
    """
    import torch

    logits = logits.float()  # [B, V]
    if temperature <= 0:
        logp = torch.log_softmax(logits, dim=-1)  # [B, V]
        tokens = torch.argmax(logits, dim=-1)  # [B]
    else:
        scaled = logits / temperature  # [B, V]
        logp = torch.log_softmax(scaled, dim=-1)  # [B, V]
        probs = torch.softmax(filter_top_k_top_p(scaled, top_k, top_p), dim=-1)  # [B, V]
        tokens = torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # [B]
    return tokens, logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def decode(tokenizer: Any, token_ids: Sequence[int]) -> str:
    """Decode generated ids keeping special tokens such as ``</think>`` (the EOS is cut before this)."""
    return tokenizer.decode(list(token_ids), skip_special_tokens=False, clean_up_tokenization_spaces=False)


def tail_has_stop(tokenizer: Any, token_ids: Sequence[int], stop: Sequence[str], window: int) -> bool:
    """Whether the text of the last ``window`` tokens contains a stop string (cheap per-step check)."""
    tail = decode(tokenizer, token_ids[-window:])
    return any(s in tail for s in stop)


def stop_window(stop: Sequence[str]) -> int:
    """Tokens to decode per step so a stop string that ends in the newest token is always seen."""
    return max((len(s) for s in stop), default=0) + 2


def finalize(
    tokenizer: Any,
    token_ids: Sequence[int],
    logprobs: Sequence[float] | None,
    *,
    eos_ids: Collection[int],
    stop: Sequence[str],
) -> Completion:
    """Build the :class:`Completion` of one generated row.

    The row is cut after its first EOS token (kept in ``token_ids``/``logprobs``, left out of ``text``:
    a GRPO trainer must learn to emit it) and, when a stop string occurs, after the token that completes
    its first occurrence; ``text`` then ends just before the stop string (the OpenAI/vLLM convention).
    ``finish_reason`` is ``"stop"`` in both cases, else ``"length"``.
    """
    ids = list(token_ids)
    finish = "length"
    body = ids
    for i, token in enumerate(ids):
        if token in eos_ids:
            ids, body, finish = ids[: i + 1], ids[:i], "stop"
            break
    text = decode(tokenizer, body)
    hits = [text.find(s) for s in stop if s and s in text]
    if hits:
        cut = min(hits)
        # smallest k with a stop string in decode(body[:k]); bisect over the monotone predicate
        k = bisect.bisect_left(
            range(1, len(body) + 1),
            True,
            key=lambda n: any(s in decode(tokenizer, body[:n]) for s in stop if s),
        )
        ids = body[: k + 1]
        text, finish = text[:cut], "stop"
    lps = tuple(float(x) for x in logprobs[: len(ids)]) if logprobs is not None else None
    return Completion(text=text, token_ids=tuple(int(t) for t in ids), logprobs=lps, finish_reason=finish)
