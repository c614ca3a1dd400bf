"""Batches for causal-LM SFT: padded batches, and packed rows whose examples never see each other.

Targets are shifted inside each example: ``labels[t] = input_ids[t + 1]`` when token ``t + 1`` is an
assistant token of the same example, else ``-100``. So the loss is ``CE(logits[t], labels[t])`` with
no further shift, and the last token of one packed example never predicts the first of the next.

Packing (:func:`pack_best_fit`) puts examples into rows of at most ``max_length`` tokens (best-fit
decreasing: longest first, each into the fullest row it still fits). In a packed row the position
ids restart at 0 for every example, and attention is kept inside each example:

* ``sdpa`` / ``eager``: an explicit 4D block-diagonal causal mask ``(B, 1, L, L)`` (bool for sdpa,
  additive float for eager), used by transformers as given;
* ``flash_attention_2`` / ``flash_attention_3`` / ``flex_attention``: no mask; transformers reads
  the example boundaries from the restarting ``position_ids`` (the varlen kernels, no padding cost).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from r1cli.errors import R1Error

IGNORE_INDEX = -100
POSITION_ID_ATTN = ("flash_attention_2", "flash_attention_3", "flex_attention")


def pack_best_fit(lengths: list[int], max_length: int) -> list[list[int]]:
    """Group example indices into rows with ``sum(lengths[i] for i in row) <= max_length``.

    Best-fit decreasing, deterministic (ties keep the original order). Every index appears once.
    >>> pack_best_fit([5, 3, 4, 2], 8)
    [[0, 1], [2, 3]]
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    rows: list[list[int]] = []
    free: list[int] = []
    for i in order:
        n = lengths[i]
        if n > max_length:
            raise R1Error(f"example {i} has {n} tokens, more than max_length {max_length}; truncate or drop it first")
        best = -1
        for r, room in enumerate(free):
            if room >= n and (best == -1 or room < free[best]):
                best = r
        if best == -1:
            rows.append([i])
            free.append(max_length - n)
        else:
            rows[best].append(i)
            free[best] -= n
    return [sorted(r) for r in rows]


def shifted_labels(input_ids: list[int], loss_mask: list[int]) -> list[int]:
    """``labels[t] = input_ids[t+1]`` if ``loss_mask[t+1]`` else -100; the last label is -100."""
    out = [IGNORE_INDEX] * len(input_ids)
    for t in range(len(input_ids) - 1):
        if loss_mask[t + 1]:
            out[t] = input_ids[t + 1]
    return out


@dataclass
class Batch:
    """Model inputs of one micro-batch.

    ``input_ids``, ``labels``, ``position_ids``: LongTensor (B, L). ``attention_mask``: a
    (B, 1, L, L) block mask, or None (plain causal attention). ``num_loss_tokens``: labels != -100; ``num_tokens``: real
    (non-pad) tokens.
    """

    input_ids: Any
    labels: Any
    position_ids: Any
    attention_mask: Any
    num_loss_tokens: int
    num_tokens: int

    def to(self, device: Any) -> Batch:
        def move(t: Any) -> Any:
            return None if t is None else t.to(device, non_blocking=True)

        return Batch(move(self.input_ids), move(self.labels), move(self.position_ids),
                     move(self.attention_mask), self.num_loss_tokens, self.num_tokens)

    def model_inputs(self) -> dict:
        out = {"input_ids": self.input_ids, "position_ids": self.position_ids, "use_cache": False}
        if self.attention_mask is not None:
            out["attention_mask"] = self.attention_mask
        return out


def collate_padded(examples: list[Any], pad_id: int) -> Batch:
    """Right-padded batch of separate examples (``Tokenized``: ``input_ids``, ``loss_mask``).

    No attention mask is passed: with right padding, causal attention already keeps every real
    token away from the pads (they come after it), and pads carry no labels. The model then runs
    plain causal attention (SDPA's ``is_causal`` fast path, no (B, 1, L, L) mask to build).
    """
    import torch

    L = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), L), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), L), IGNORE_INDEX, dtype=torch.long)
    for b, e in enumerate(examples):
        n = len(e.input_ids)
        ids[b, :n] = torch.tensor(e.input_ids)
        labels[b, :n] = torch.tensor(shifted_labels(e.input_ids, e.loss_mask))
    pos = torch.arange(L).unsqueeze(0).expand(len(examples), L).contiguous()
    return Batch(ids, labels, pos, None, int((labels != IGNORE_INDEX).sum()),
                 sum(len(e.input_ids) for e in examples))


def block_causal_mask(segments: Any, attn_implementation: str, dtype: Any = None) -> Any:
    """``(B, 1, L, L)`` mask from segment ids ``(B, L)``: query i sees key j iff j <= i and both
    tokens belong to the same segment. Bool (True = attend) for sdpa; for eager an additive mask of
    0 and ``finfo(dtype).min``."""
    import torch

    L = segments.shape[1]
    causal = torch.ones(L, L, dtype=torch.bool).tril()
    same = segments.unsqueeze(2) == segments.unsqueeze(1)  # (B, L, L)
    mask = (same & causal).unsqueeze(1)  # (B, 1, L, L)
    if attn_implementation == "eager":
        dtype = dtype or torch.float32
        return torch.zeros(mask.shape, dtype=dtype).masked_fill(~mask, torch.finfo(dtype).min)
    return mask


def collate_packed(rows: list[list[Any]], pad_id: int, *, attn_implementation: str = "sdpa",
                   dtype: Any = None) -> Batch:
    """One row per list of examples, concatenated; positions restart per example; pads at the end
    form their own segments (each pad token attends only to itself, never to an example)."""
    import torch

    lengths = [sum(len(e.input_ids) for e in row) for row in rows]
    L = max(lengths)
    B = len(rows)
    ids = torch.full((B, L), pad_id, dtype=torch.long)
    labels = torch.full((B, L), IGNORE_INDEX, dtype=torch.long)
    pos = torch.zeros((B, L), dtype=torch.long)
    seg = torch.zeros((B, L), dtype=torch.long)
    for b, row in enumerate(rows):
        t = 0
        for k, e in enumerate(row):
            n = len(e.input_ids)
            ids[b, t:t + n] = torch.tensor(e.input_ids)
            labels[b, t:t + n] = torch.tensor(shifted_labels(e.input_ids, e.loss_mask))
            pos[b, t:t + n] = torch.arange(n)
            seg[b, t:t + n] = k
            t += n
        pad = L - t
        if pad:
            pos[b, t:] = torch.arange(pad)  # harmless positions for pads
            seg[b, t:] = len(row) + torch.arange(pad)  # one segment per pad token
    if attn_implementation in POSITION_ID_ATTN:
        mask = None
    elif attn_implementation in ("sdpa", "eager"):
        mask = block_causal_mask(seg, attn_implementation, dtype)
    else:
        raise R1Error(f"packing does not support attn_implementation '{attn_implementation}'; "
                      "use sdpa, eager, flash_attention_2 or flex_attention")
    return Batch(ids, labels, pos, mask, int((labels != IGNORE_INDEX).sum()), sum(lengths))
