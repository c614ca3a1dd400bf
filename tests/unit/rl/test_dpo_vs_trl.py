"""r1's DPO loss and gradients equal TRL's DPOTrainer on the same batch (TRL is a dev dependency)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
trl = pytest.importorskip("trl", reason="TRL (a dev dependency: pip install -e '.[dev]') is not installed")


@pytest.mark.parametrize("loss_type", ["sigmoid", "ipo", "sigmoid_norm"])
def test_loss_and_gradients_match_trl(tmp_path, loss_type):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from r1cli.data.packing import Batch
    from r1cli.models.tiny import init_tiny
    from r1cli.rl.dpo import dpo_loss
    from r1cli.train.dpo import sequence_logps

    torch.manual_seed(0)
    path = init_tiny(tmp_path / "model", hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1,
                     intermediate_size=64, max_position_embeddings=256)
    tok = AutoTokenizer.from_pretrained(path)
    policy = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    ref = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    with torch.no_grad():  # a policy that differs from its reference
        for p in policy.parameters():
            p.add_(0.05 * torch.randn_like(p))
    rows = [{"prompt": [{"role": "user", "content": f"What is {i} + {i}?"}],
             "chosen": [{"role": "assistant", "content": f"<think>\n{i}+{i}={2 * i}\n</think>\n\\boxed{{{2 * i}}}"}],
             "rejected": [{"role": "assistant", "content": f"\\boxed{{{2 * i + 1}}} maybe" + " so" * i}]} for i in range(4)]
    args = trl.DPOConfig(output_dir=str(tmp_path / "trl"), per_device_train_batch_size=4, beta=0.2, report_to=[],
                         use_cpu=True, max_length=None, loss_type=[loss_type], bf16=False)
    trainer = trl.DPOTrainer(model=policy, ref_model=ref, args=args, train_dataset=Dataset.from_list(rows),
                             processing_class=tok)
    batch = next(iter(trainer.get_train_dataloader()))
    # TRL (>= 1.15) computes log-probs with its own tiled, fused LM head in float32: keep the per-sequence
    # sums it computed, so that the loss formula is compared on identical inputs (to 1e-6) and the log-probs
    # themselves separately (to float32 rounding of sums over whole completions)
    seen = {}
    for name, m in (("policy", trainer.model), ("ref", trainer.ref_model)):
        def capture(*a, _orig=m.forward, _name=name, **k):
            out = _orig(*a, **k)
            if getattr(out, "log_probs", None) is not None:
                seen[_name] = out.log_probs.detach()[:, -(batch["completion_mask"].shape[1] - 1):].sum(dim=1)
            return out
        m.forward = capture
    policy.train()
    trl_loss = trainer.compute_loss(policy, batch)
    policy.zero_grad()
    trl_loss.backward()
    trl_grads = [p.grad.clone() for p in policy.parameters()]

    # the same tokens through r1: labels[t] = ids[t + 1] where the completion mask is 1 (right padding)
    ids, mask = batch["input_ids"], batch["completion_mask"].bool()
    labels = torch.full_like(ids, -100)
    labels[:, :-1] = torch.where(mask[:, 1:], ids[:, 1:], torch.full_like(ids[:, 1:], -100))
    positions = torch.arange(ids.shape[1]).expand_as(ids).contiguous()
    ours = Batch(ids, labels, positions, None, int((labels != -100).sum()), int(batch["attention_mask"].sum()))
    n = ids.shape[0] // 2
    logps = sequence_logps(lambda inputs: policy(**inputs), ours)
    with torch.no_grad():
        ref_logps = sequence_logps(lambda inputs: ref(**inputs), ours)
    lengths = (labels != -100).sum(dim=1)
    losses, _ = dpo_loss(logps[:n], logps[n:], ref_logps[:n], ref_logps[n:], beta=0.2,
                         loss_type=loss_type.replace("_", "-"), chosen_lengths=lengths[:n], rejected_lengths=lengths[n:])
    r1_loss = losses.mean()
    policy.zero_grad()
    r1_loss.backward()
    # the loss formula: r1's dpo_loss on TRL's own log-probs gives TRL's loss
    tp, tr = seen["policy"], seen["ref"]
    on_trl, _ = dpo_loss(tp[:n], tp[n:], tr[:n], tr[n:], beta=0.2, loss_type=loss_type.replace("_", "-"),
                         chosen_lengths=lengths[:n], rejected_lengths=lengths[n:])
    assert abs(float(on_trl.mean()) - float(trl_loss.detach())) <= 1e-6
    # the log-probs: the same tokens, positions and masks, equal up to float32 summation order
    assert torch.allclose(logps.detach().double(), seen["policy"].double(), rtol=1e-6, atol=1e-4)
    assert torch.allclose(ref_logps.double(), seen["ref"].double(), rtol=1e-6, atol=1e-4)
    # so the losses and gradients agree to float32 rounding (sums of ~100 nats carry ~1e-6 of it)
    assert abs(float(r1_loss.detach()) - float(trl_loss.detach())) <= 5e-6
    assert max(float((a - p.grad).abs().max()) for a, p in zip(trl_grads, policy.parameters(), strict=True)) <= 5e-6
