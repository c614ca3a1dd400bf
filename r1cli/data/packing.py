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

from dataclasses import dataclass, replace
from typing import Any

from r1cli.errors import R1Error

IGNORE_INDEX = -100
POSITION_ID_ATTN = ("flash_attention_2", "flash_attention_3", "flex_attention")
MASK_ATTN = ("sdpa", "eager")  # take an explicit 4D mask


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


def block_causal_mask(segments: Any, attn_implementation: str, dtype: Any = None, branches: Any = None) -> Any:
    """``(B, 1, L, L)`` mask from segment ids ``(B, L)``: query i sees key j iff j <= i and both
    tokens belong to the same segment (and, given ``branches``, not a branch-2 query on a branch-1 key:
    the rejected part of a pair never sees the chosen part). Bool (True = attend) for sdpa; for eager
    an additive mask of 0 and ``finfo(dtype).min``."""
    import torch

    L = segments.shape[1]
    causal = torch.ones(L, L, dtype=torch.bool).tril()
    same = segments.unsqueeze(2) == segments.unsqueeze(1)  # (B, L, L)
    if branches is not None:
        same &= ~((branches.unsqueeze(2) == 2) & (branches.unsqueeze(1) == 1))
    mask = (same & causal).unsqueeze(1)  # (B, 1, L, L)
    if attn_implementation == "eager":
        dtype = dtype or torch.float32
        return torch.zeros(mask.shape, dtype=dtype).masked_fill(~mask, torch.finfo(dtype).min)
    return mask


def _row_mask(segments: Any, attn_implementation: str, dtype: Any, branches: Any = None) -> Any:
    """The attention mask a packed batch passes: None where segments come from the position ids."""
    if attn_implementation in POSITION_ID_ATTN:
        return None
    if attn_implementation in MASK_ATTN:
        return block_causal_mask(segments, attn_implementation, dtype, branches)
    raise R1Error(f"packing does not support attn_implementation '{attn_implementation}'; "
                  "use sdpa, eager, flash_attention_2 or flex_attention")


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
    return Batch(ids, labels, pos, _row_mask(seg, attn_implementation, dtype), int((labels != IGNORE_INDEX).sum()), sum(lengths))


def common_prefix_length(a: list[int], b: list[int]) -> int:
    """Number of leading tokens ``a`` and ``b`` share.

    >>> common_prefix_length([1, 2, 3], [1, 2, 4, 5])
    2
    """
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@dataclass
class PairBatch:
    """A micro-batch of ``n`` preference pairs laid out by :func:`collate_pairs`.

    ``batch``: the model inputs (``labels`` is None). Every scored token (a completion token of one of
    the ``2n`` sequences; sequences ``0..n-1`` are the chosen, ``n..2n-1`` the rejected) is read from
    the logits at ``(rows[i], cols[i])`` against ``targets[i]`` and summed into sequence ``seq[i]``.
    ``keep``: (R, L) bool, the positions whose logits are read; ``kept[i]``: the index of token ``i``
    among them (row-major), for a model that computes logits only there. ``lengths``: scored tokens
    per sequence. ``num_tokens``: real tokens of the ``2n`` whole sequences (a shared prefix counted
    in both), ``num_positions``: the positions the model actually runs (real ones, without padding).
    """

    batch: Batch
    rows: Any
    cols: Any
    targets: Any
    seq: Any
    keep: Any
    kept: Any
    lengths: Any
    n_pairs: int
    num_tokens: int
    num_positions: int

    def to(self, device: Any) -> PairBatch:
        moved = {f: getattr(self, f).to(device, non_blocking=True)
                 for f in ("rows", "cols", "targets", "seq", "keep", "kept", "lengths")}
        return replace(self, batch=self.batch.to(device), **moved)


def collate_pairs(pairs: list[tuple[Any, Any]], pad_id: int, *, row_tokens: int | None = None,
                  attn_implementation: str = "sdpa",
                  dtype: Any = None, share_prefix: bool | None = None) -> PairBatch:
    """Pack ``(chosen, rejected)`` pairs (``Tokenized``) into rows of at most ``row_tokens`` positions
    (best fit; a pair longer than that gets a row of its own). ``None``: the longest pair's width, so
    short pairs share rows without making any row longer than padding would; ``0``: one pair per row.

    With ``share_prefix`` (default: when the attention takes an explicit mask, ``sdpa`` / ``eager``),
    a pair is laid out as ``[common prefix][rest of chosen][rest of rejected]``: the tokens both
    sequences start with (the prompt, at least) run once; the rejected part attends to the prefix and
    to itself, never to the chosen part, and its positions continue from the prefix, so every token
    sees exactly what it would see in its own sequence (a causal model's states of identical prefixes
    are identical). Without it (``flash_attention_*`` / ``flex_attention``, which read segment
    boundaries from restarting ``position_ids``), chosen and rejected are two packed segments. Pairs
    never see each other; padding only ends a row.
    """
    import torch

    share = attn_implementation in MASK_ATTN if share_prefix is None else share_prefix
    if share and attn_implementation not in MASK_ATTN:
        raise R1Error(f"a shared prompt prefix needs an attention mask (sdpa or eager), not '{attn_implementation}'")
    prefix = [common_prefix_length(c.input_ids, r.input_ids) if share else 0 for c, r in pairs]
    widths = [len(c.input_ids) + len(r.input_ids) - p for (c, r), p in zip(pairs, prefix, strict=True)]
    budget = max(widths) if row_tokens is None else max(row_tokens, max(widths))
    rows = pack_best_fit(widths, budget) if row_tokens != 0 else [[j] for j in range(len(pairs))]
    B, L, n = len(rows), max(sum(widths[j] for j in row) for row in rows), len(pairs)
    ids = torch.full((B, L), pad_id, dtype=torch.long)
    pos = torch.zeros((B, L), dtype=torch.long)
    seg = torch.zeros((B, L), dtype=torch.long)
    branch = torch.zeros((B, L), dtype=torch.long)  # 0 prefix (or pad), 1 chosen, 2 rejected
    gather: list[tuple] = []  # (row, cols, targets, sequence) per sequence
    for b, row in enumerate(rows):
        t = 0
        for k, j in enumerate(row):
            (c, r), p = pairs[j], prefix[j]
            nc, nr = len(c.input_ids), len(r.input_ids)
            ids[b, t:t + nc] = torch.tensor(c.input_ids)
            ids[b, t + nc:t + nc + nr - p] = torch.tensor(r.input_ids[p:])
            pos[b, t:t + nc] = torch.arange(nc)
            pos[b, t + nc:t + nc + nr - p] = torch.arange(p, nr)
            seg[b, t:t + nc + nr - p] = k
            branch[b, t + p:t + nc] = 1
            branch[b, t + nc:t + nc + nr - p] = 2
            for s, (ex, jump) in enumerate(((c, 0), (r, nc - p))):
                q = torch.tensor(ex.loss_mask[1:]).nonzero().flatten() + 1  # scored tokens
                # token q is predicted at the position of token q - 1 (the rejected part sits `jump` further)
                cols = t + q - 1 + torch.where(q - 1 >= p, jump, 0)
                gather.append((b, cols, torch.tensor(ex.input_ids)[q], j + s * n))
            t += nc + nr - p
        if L > t:
            pos[b, t:] = torch.arange(L - t)
            seg[b, t:] = len(row) + torch.arange(L - t)  # each pad its own segment
    mask = _row_mask(seg, attn_implementation, dtype, branch)
    rows_t = torch.cat([torch.full((len(cols),), b, dtype=torch.long) for b, cols, _, _ in gather])
    cols_t = torch.cat([cols for _, cols, _, _ in gather])
    targets = torch.cat([tg for _, _, tg, _ in gather])
    seq_t = torch.cat([torch.full((len(cols),), sq, dtype=torch.long) for _, cols, _, sq in gather])
    keep = torch.zeros((B, L), dtype=torch.bool)
    keep[rows_t, cols_t] = True
    kept = (keep.view(-1).cumsum(0) - 1)[rows_t * L + cols_t]
    lengths = torch.bincount(seq_t, minlength=2 * n)
    num_tokens = sum(len(c.input_ids) + len(r.input_ids) for c, r in pairs)
    return PairBatch(Batch(ids, None, pos, mask, len(rows_t), num_tokens), rows_t, cols_t, targets, seq_t, keep,
                     kept, lengths, n, num_tokens, sum(widths))
