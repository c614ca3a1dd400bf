"""r1's clipped GRPO loss (``policy_loss`` on ``token_logprobs``) equals TRL's GRPOTrainer loss on the same
batch: same model, completions, advantages, behaviour and reference log-probs (TRL is a dev dependency).

TRL's ``grpo`` loss is r1's ``seq-mean-token-mean``, ``bnpo`` is ``token-mean`` and ``dr_grpo`` is
``seq-mean-token-sum-norm`` with ``norm_len = max_completion_length``; KL is k3 in the loss (TRL's
``use_bias_correction_kl``, which weights it by the ratio, is turned off: r1 has no such option)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
trl = pytest.importorskip("trl", reason="TRL (a dev dependency: pip install -e '.[dev]') is not installed")

CASES = [("grpo", "seq-mean-token-mean"), ("bnpo", "token-mean"), ("dr_grpo", "seq-mean-token-sum-norm")]


@pytest.mark.parametrize("trl_loss_type, agg", CASES)
@pytest.mark.parametrize("beta", [0.0, 0.04])
def test_loss_and_gradients_match_trl(tmp_path, trl_loss_type, agg, beta):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from r1cli.models.tiny import init_tiny
    from r1cli.rl import policy_loss, token_logprobs

    torch.manual_seed(0)
    path = init_tiny(tmp_path / "model", hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1,
                     intermediate_size=64, max_position_embeddings=256)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    max_len = 8
    args = trl.GRPOConfig(output_dir=str(tmp_path / "trl"), per_device_train_batch_size=4, num_generations=2,
                          max_completion_length=max_len, beta=beta, loss_type=trl_loss_type, epsilon=0.2,
                          report_to=[], use_cpu=True, logging_steps=1,
                          bf16=False,  # fp32, as r1 on CPU (TRL's default autocasts to bf16)
                          use_bias_correction_kl=False)  # plain k3; TRL's default multiplies it by the ratio
    trainer = trl.GRPOTrainer(model=model, reward_funcs=[lambda completions, **_: [0.0] * len(completions)],
                              args=args, train_dataset=Dataset.from_list([{"prompt": "1+1?"}] * 4),
                              processing_class=tok)
    trainer.model.eval()  # TRL's eval mode: no division by gradient-accumulation steps

    b, p = 4, 5
    prompt_ids = torch.randint(4, 40, (b, p))
    completion_ids = torch.randint(4, 40, (b, max_len))
    completion_mask = torch.tensor([[1] * 8, [1] * 5 + [0] * 3, [1] * 2 + [0] * 6, [1] * 7 + [0]])
    advantages = torch.tensor([1.0, -1.0, 0.5, -0.5])
    with torch.no_grad():  # behaviour / reference log-probs away from the current policy: ratios hit both clips
        logits = model(input_ids=torch.cat([prompt_ids, completion_ids], 1)).logits[:, p - 1:-1]
        current = token_logprobs(logits, completion_ids)
    old = current + 0.3 * torch.randn_like(current)
    ref = current + 0.2 * torch.randn_like(current)
    inputs = {"prompt_ids": prompt_ids, "prompt_mask": torch.ones_like(prompt_ids), "completion_ids": completion_ids,
              "completion_mask": completion_mask, "advantages": advantages, "old_per_token_logps": old,
              "num_items_in_batch": completion_mask.sum()}
    if beta:
        inputs["ref_per_token_logps"] = ref
    trl_loss = trainer.compute_loss(trainer.model, inputs)
    model.zero_grad()
    trl_loss.backward()
    trl_grads = [q.grad.clone() for q in model.parameters()]

    logits = model(input_ids=torch.cat([prompt_ids, completion_ids], 1)).logits[:, p - 1:-1]
    logp = token_logprobs(logits, completion_ids)
    r1_loss, stats = policy_loss(logp, old, advantages, completion_mask, clip_low=0.2, clip_high=0.2, agg=agg,
                                 norm_len=float(max_len), ref_logp=ref if beta else None, beta=beta, kl="k3")
    assert stats["clip_frac_low"] + stats["clip_frac_high"] > 0  # the clipped branches are exercised
    model.zero_grad()
    r1_loss.backward()
    assert abs(float(r1_loss) - float(trl_loss)) <= 1e-6
    worst = max(float((a - q.grad).abs().max()) for a, q in zip(trl_grads, model.parameters(), strict=True))
    assert worst <= 1e-6
