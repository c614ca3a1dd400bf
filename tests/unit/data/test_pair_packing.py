"""Preference pairs laid out by ``collate_pairs``: the common prefix of chosen and rejected runs once, the
rejected part never sees the chosen part, and the per-sequence log-prob sums (and their gradients) equal
those of the two sequences run separately, for every layout."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from r1cli.data.chat import Tokenized  # noqa: E402
from r1cli.data.packing import collate_padded, collate_pairs, common_prefix_length  # noqa: E402
from r1cli.errors import R1Error  # noqa: E402


def ex(ids, prompt):
    return Tokenized(list(ids), [0] * prompt + [1] * (len(ids) - prompt))


def test_common_prefix_length():
    assert common_prefix_length([1, 2, 3], [1, 2, 4, 5]) == 2
    assert common_prefix_length([1, 2], [1, 2, 3]) == 2
    assert common_prefix_length([7], [8]) == 0


def test_layout_by_hand():
    # prompt [5, 6], chosen completion [7, 8], rejected completion [9]: one row [5 6 7 8 9]
    pb = collate_pairs([(ex([5, 6, 7, 8], 2), ex([5, 6, 9], 2))], 0, attn_implementation="sdpa")
    assert pb.batch.input_ids.tolist() == [[5, 6, 7, 8, 9]]
    assert pb.batch.position_ids.tolist() == [[0, 1, 2, 3, 2]]  # the rejected 9 sits at position 2
    mask = pb.batch.attention_mask[0, 0].int().tolist()
    assert mask == [[1, 0, 0, 0, 0],
                    [1, 1, 0, 0, 0],
                    [1, 1, 1, 0, 0],
                    [1, 1, 1, 1, 0],
                    [1, 1, 0, 0, 1]]  # 9 sees the prompt and itself, not 7 8
    # chosen: 7 read at column 1 (after 6), 8 at column 2; rejected: 9 read at column 1 too
    assert list(zip(pb.cols.tolist(), pb.targets.tolist(), pb.seq.tolist(), strict=True)) == [
        (1, 7, 0), (2, 8, 0), (1, 9, 1)]
    assert pb.lengths.tolist() == [2, 1] and pb.num_tokens == 7 and pb.num_positions == 5
    assert pb.keep.tolist() == [[False, True, True, False, False]] and pb.kept.tolist() == [0, 1, 0]


def test_unshared_layout_is_two_segments():
    pb = collate_pairs([(ex([5, 6, 7, 8], 2), ex([5, 6, 9], 2))], 0, attn_implementation="sdpa", share_prefix=False)
    assert pb.batch.input_ids.tolist() == [[5, 6, 7, 8, 5, 6, 9]]
    assert pb.batch.position_ids.tolist() == [[0, 1, 2, 3, 0, 1, 2]]
    assert pb.batch.attention_mask[0, 0, 4].int().tolist() == [0, 0, 0, 0, 1, 0, 0]
    flash = collate_pairs([(ex([5, 6, 7, 8], 2), ex([5, 6, 9], 2))], 0, attn_implementation="flash_attention_2")
    assert flash.batch.attention_mask is None  # segments from the restarting position ids
    assert flash.batch.position_ids.tolist() == [[0, 1, 2, 3, 0, 1, 2]]
    with pytest.raises(R1Error, match="needs an attention mask"):
        collate_pairs([(ex([5, 6, 7], 2), ex([5, 6, 9], 2))], 0, attn_implementation="flash_attention_2",
                      share_prefix=True)


def test_rows():
    pairs = [(ex([1, 2, 3], 1), ex([1, 4], 1)), (ex([1, 5], 1), ex([1, 6], 1)), (ex([1, 7], 1), ex([1, 8], 1))]
    # widths 4, 3, 3: by default rows no longer than the longest pair (4): three rows
    assert collate_pairs(pairs, 0).batch.input_ids.shape == (3, 4)
    assert collate_pairs(pairs, 0, row_tokens=6).batch.input_ids.shape == (2, 6)  # [3 3] [4]
    assert collate_pairs(pairs, 0, row_tokens=0).batch.input_ids.shape == (3, 4)  # one pair per row
    assert collate_pairs(pairs, 0, row_tokens=100).batch.input_ids.shape == (1, 10)


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_equals_separate_sequences_with_gradients(attn):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from r1cli.train.dpo import sequence_logps

    torch.manual_seed(0)
    model = Qwen2ForCausalLM(Qwen2Config(vocab_size=40, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                         num_key_value_heads=2, intermediate_size=64, max_position_embeddings=64,
                                         attn_implementation=attn)).float()
    g = torch.Generator().manual_seed(1)

    def rand(n):
        return torch.randint(1, 40, (n,), generator=g).tolist()

    pairs = []
    for p, c, r in ((3, 4, 6), (1, 5, 2), (6, 1, 3), (2, 0, 4), (4, 3, 3)):
        prompt = rand(p)
        chosen, rejected = prompt + rand(c), prompt + rand(r)
        if c == 0:
            chosen = prompt + rejected[p:p + 2]  # the chosen is a prefix of the rejected
        pairs.append((ex(chosen, p), ex(rejected, p)))

    def run(batch, **kw):
        model.zero_grad()
        out = sequence_logps(lambda inputs: model(**inputs), batch, **kw)
        (out * torch.arange(1, len(out) + 1)).sum().backward()  # every sequence with its own weight
        return out.detach(), {k: p.grad.clone() for k, p in model.named_parameters()}

    want, want_g = run(collate_padded([c for c, _ in pairs] + [r for _, r in pairs], 0))
    for share in (None, False):
        for rows in (None, 0, 12, 200):
            for logits_mask in (False, True):
                pb = collate_pairs(pairs, 0, row_tokens=rows, attn_implementation=attn, share_prefix=share)
                got, got_g = run(pb, logits_mask=logits_mask)
                torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
                for k in want_g:
                    torch.testing.assert_close(got_g[k], want_g[k], atol=1e-5, rtol=1e-5, msg=k)
                assert pb.lengths.tolist() == [sum(x.loss_mask[1:]) for x in [c for c, _ in pairs] + [r for _, r in pairs]]
