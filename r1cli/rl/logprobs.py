"""Per-token log-probabilities and entropies from logits, numerically stable and memory-aware.

Both functions work in float32 whatever the logits' dtype (bf16 log-softmax loses ~2 digits) and
process the ``B·T`` positions in chunks of ``chunk_size`` rows, so the float32 temporary is at most
``chunk_size × V`` instead of ``B × T × V``. Under ``torch.no_grad()`` (old-policy and reference
log-probs) that bounds the peak memory; under autograd the tensors saved for backward still grow with
``B·T·V`` (the chunks only avoid one extra full-size float32 copy at a time).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DEFAULT_CHUNK = 1024
"""Positions (rows of ``[B·T, V]``) processed at once."""


def _check(logits: torch.Tensor, temperature: float, chunk_size: int | None) -> int:
    if logits.dim() != 3:
        raise ValueError(f"logits must be [B, T, V], got shape {tuple(logits.shape)}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    chunk = DEFAULT_CHUNK if chunk_size is None else chunk_size
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    return chunk


def token_logprobs(
    logits: torch.Tensor,
    ids: torch.Tensor,
    *,
    temperature: float = 1.0,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """``log softmax(logits / temperature)[b, t, ids[b, t]]`` → ``[B, T]`` (float32).

    Args:
        logits: ``[B, T, V]``; position ``t`` must already predict ``ids[:, t]`` (shift beforehand).
        ids: ``[B, T]`` integer token ids in ``[0, V)``; padding ids must still be valid indices
            (mask the result instead).
        temperature: divide the logits first; use the sampling temperature so that the trainer's
            log-probs match the rollout engine's.
        chunk_size: positions per chunk (default ``DEFAULT_CHUNK``).
    """
    import torch

    chunk = _check(logits, temperature, chunk_size)
    b, t, v = logits.shape
    if ids.shape != (b, t):
        raise ValueError(f"ids must be [B, T] = {(b, t)}, got {tuple(ids.shape)}")
    flat = logits.reshape(b * t, v)  # [BT, V]
    flat_ids = ids.reshape(b * t, 1).long()  # [BT, 1]
    out = []
    for start in range(0, b * t, chunk):
        z = flat[start : start + chunk].float()  # [c, V]
        if temperature != 1.0:
            z = z / temperature
        lp = torch.log_softmax(z, dim=-1)  # [c, V]
        out.append(lp.gather(1, flat_ids[start : start + chunk]).squeeze(1))  # [c]
    if not out:
        return torch.zeros((b, t), dtype=torch.float32, device=logits.device)
    return torch.cat(out).view(b, t)


def entropy_from_logits(
    logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Entropy ``H = −Σ_v p_v log p_v`` of ``softmax(logits / temperature)`` per position → ``[B, T]``.

    Computed as ``logsumexp(z) − Σ_v p_v z_v`` in float32 (stable for large logits).
    """
    import torch

    chunk = _check(logits, temperature, chunk_size)
    b, t, v = logits.shape
    flat = logits.reshape(b * t, v)
    out = []
    for start in range(0, b * t, chunk):
        z = flat[start : start + chunk].float()
        if temperature != 1.0:
            z = z / temperature
        p = torch.softmax(z, dim=-1)  # [c, V]
        out.append(torch.logsumexp(z, dim=-1) - (p * z).sum(dim=-1))  # [c]
    if not out:
        return torch.zeros((b, t), dtype=torch.float32, device=logits.device)
    return torch.cat(out).view(b, t)
