"""Packing: best-fit rows, shifted labels, block-diagonal masks, and packed == unpacked (loss and grads)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from r1cli.data.packing import (
    IGNORE_INDEX,
    block_causal_mask,
    collate_packed,
    collate_padded,
    pack_best_fit,
    shifted_labels,
)
from r1cli.errors import R1Error


@dataclass
class Ex:
    input_ids: list
    loss_mask: list


def test_best_fit_decreasing():
    # lengths 5,3,4,2 into rows of 8: 5 opens row A (room 3); 4 opens row B (room 4);
    # 3 best-fits A (room 3 -> 0); 2 fits only B (room 4 -> 2)
    assert pack_best_fit([5, 3, 4, 2], 8) == [[0, 1], [2, 3]]
    # every index once, no row over the limit
    lengths = [7, 1, 1, 6, 2, 3, 8, 4]
    rows = pack_best_fit(lengths, 8)
    assert sorted(i for r in rows for i in r) == list(range(8))
    assert all(sum(lengths[i] for i in r) <= 8 for r in rows)
    assert len(rows) == 4  # total 32 tokens = exactly 4 full rows
    with pytest.raises(R1Error, match="max_length"):
        pack_best_fit([9], 8)


def test_shifted_labels():
    # ids 10 11 12 13, mask 0 0 1 1: position 1 predicts 12, position 2 predicts 13, last none
    assert shifted_labels([10, 11, 12, 13], [0, 0, 1, 1]) == [IGNORE_INDEX, 12, 13, IGNORE_INDEX]


def test_collate_padded_right_pads_without_mask():
    batch = collate_padded([Ex([1, 2, 3], [0, 1, 1]), Ex([4, 5], [0, 1])], pad_id=0)
    assert batch.input_ids.tolist() == [[1, 2, 3], [4, 5, 0]]
    assert batch.labels.tolist() == [[2, 3, IGNORE_INDEX], [5, IGNORE_INDEX, IGNORE_INDEX]]
    assert batch.position_ids.tolist() == [[0, 1, 2], [0, 1, 2]]
    # right padding + causal attention: real tokens never see the pads, so no mask is needed
    assert batch.attention_mask is None and "attention_mask" not in batch.model_inputs()
    assert (batch.num_loss_tokens, batch.num_tokens) == (3, 5)


def test_collate_packed_positions_labels_mask():
    a = Ex([1, 2, 3], [0, 1, 1])
    b = Ex([4, 5], [0, 1])
    batch = collate_packed([[a, b]], pad_id=0, attn_implementation="sdpa")
    assert batch.input_ids.tolist() == [[1, 2, 3, 4, 5]]
    assert batch.position_ids.tolist() == [[0, 1, 2, 0, 1]]
    # the last token of a (3) must not predict the first token of b (4)
    assert batch.labels.tolist() == [[2, 3, IGNORE_INDEX, 5, IGNORE_INDEX]]
    m = batch.attention_mask[0, 0].int().tolist()
    assert m == [[1, 0, 0, 0, 0],
                 [1, 1, 0, 0, 0],
                 [1, 1, 1, 0, 0],
                 [0, 0, 0, 1, 0],
                 [0, 0, 0, 1, 1]]
    assert (batch.num_loss_tokens, batch.num_tokens) == (3, 5)
    # flash / flex: no mask, boundaries come from the restarting position ids
    assert collate_packed([[a, b]], 0, attn_implementation="flash_attention_2").attention_mask is None


def test_pads_in_packed_rows_see_only_themselves():
    a, b, c = Ex([1, 2], [0, 1]), Ex([3, 4, 5], [0, 1, 1]), Ex([6], [1])
    batch = collate_packed([[a], [b, c]], pad_id=0, attn_implementation="eager")
    assert batch.input_ids.tolist() == [[1, 2, 0, 0], [3, 4, 5, 6]]
    mask = batch.attention_mask
    assert mask.dtype.is_floating_point and mask[0, 0, 2, 2] == 0 and mask[0, 0, 2, 1] < -1e30
    assert mask[0, 0, 3, 2] < -1e30  # pad 2 does not see pad 1
    assert batch.labels[0].tolist() == [2, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]


def test_block_mask_bool():
    seg = __import__("torch").tensor([[0, 0, 1]])
    assert block_causal_mask(seg, "sdpa")[0, 0].int().tolist() == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_equals_unpacked_loss_and_gradients(attn):
    """Same examples, fp32: packed into one row vs padded batch -> same summed loss and gradients."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=40, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, intermediate_size=64, max_position_embeddings=64,
                      attn_implementation=attn)
    model = Qwen2ForCausalLM(cfg).float()
    g = torch.Generator().manual_seed(1)
    exs = []
    for n in (7, 4, 9, 5):
        ids = torch.randint(1, 40, (n,), generator=g).tolist()
        mask = [0] * (n // 2) + [1] * (n - n // 2)
        exs.append(Ex(ids, mask))

    def loss_and_grads(batch):
        model.zero_grad()
        logits = model(**batch.model_inputs()).logits  # (B, L, V)
        keep = batch.labels != IGNORE_INDEX
        loss = torch.nn.functional.cross_entropy(logits[keep], batch.labels[keep], reduction="sum")
        loss.backward()
        return loss.item(), {k: p.grad.clone() for k, p in model.named_parameters()}

    l_pad, g_pad = loss_and_grads(collate_padded(exs, pad_id=0))
    l_pack, g_pack = loss_and_grads(collate_packed([exs], pad_id=0, attn_implementation=attn))
    assert l_pack == pytest.approx(l_pad, abs=1e-5)
    for k in g_pad:
        torch.testing.assert_close(g_pack[k], g_pad[k], atol=1e-5, rtol=1e-5, msg=k)
