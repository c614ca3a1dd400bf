"""PPO's critic: a transformer trunk with a scalar value head, its values on a rollout batch, its update.

The critic is a separate model (``ppo.critic``, default: the policy's starting weights, as
Open-Reasoner-Zero and verl initialise it): the trunk of a causal LM (``model.base_model``, the LM head
dropped) and ``value_head``, a ``Linear(hidden, 1)`` initialised to zero so that every value starts at 0.
``V_t`` is read at the position that predicts completion token ``t`` (the prefix before token ``t``), the
same positions as the policy's logits (:func:`r1cli.train.grpo_update.row_slice`).

A critic saved by ``r1 grpo`` (``<run>/critic``, beside the policy in ``<run>/final``) is a trunk directory plus ``value_head.safetensors``;
pointing ``ppo.critic`` at it continues from that value head. The critic steps through its own engine
(AdamW, its own learning rate and warm-up; DDP under torchrun) and is checkpointed beside the policy
(``critic-step<N>.pt``: weights, optimizer, schedule), so a resumed run continues to the identical state.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from r1cli.errors import R1Error

HEAD_FILE = "value_head.safetensors"


def _value_model_class() -> Any:
    import torch

    class ValueModel(torch.nn.Module):
        """``forward(input_ids) -> values [b, L]``: one scalar per position."""

        def __init__(self, trunk: Any, hidden: int):
            super().__init__()
            self.trunk = trunk
            self.value_head = torch.nn.Linear(hidden, 1)
            torch.nn.init.zeros_(self.value_head.weight)
            torch.nn.init.zeros_(self.value_head.bias)

        def forward(self, input_ids: Any, **_: Any) -> Any:
            hidden = self.trunk(input_ids=input_ids, use_cache=False).last_hidden_state  # [b, L, H]
            return self.value_head(hidden.to(self.value_head.weight.dtype)).squeeze(-1)  # [b, L]

    return ValueModel


def load_critic(path: str, *, device: str, policy_vocab: int, model_cfg: Any) -> Any:
    """The value model for ``path`` (an HF causal-LM or trunk directory, or a hub id), on ``device``.

    One-line errors: a critic whose vocabulary cannot read the policy's token ids, or a saved value head
    whose input size is not the trunk's hidden size.
    """
    import torch

    from r1cli.train.model_utils import load_for_training

    lm, _, _ = load_for_training(model_cfg.model_copy(update={"path": path}), device=device)
    vocab = int(getattr(lm.config, "vocab_size", 0) or 0)
    if vocab and vocab < policy_vocab:
        raise R1Error(f"--critic {path}: its vocabulary has {vocab} tokens but the policy's tokenizer has "
                      f"{policy_vocab}; the critic reads the policy's token ids, so it must share its tokenizer")
    hidden = int(lm.config.hidden_size)
    trunk = lm.base_model
    if trunk is lm:
        raise R1Error(f"--critic {path}: cannot find the transformer trunk of {type(lm).__name__}")
    critic = _value_model_class()(trunk, hidden).to(device)
    head = Path(path) / HEAD_FILE
    if head.is_file():
        from safetensors.torch import load_file

        state = load_file(str(head))
        weight = state.get("weight")
        if weight is None or weight.dim() != 2 or weight.shape[0] != 1:
            raise R1Error(f"--critic {path}: {HEAD_FILE} holds no [1, hidden] 'weight'")
        if weight.shape[1] != hidden:
            raise R1Error(f"--critic {path}: its value head ({HEAD_FILE}) takes hidden size {weight.shape[1]} but "
                          f"the model's hidden size is {hidden}; use the trunk it was trained with")
        with torch.no_grad():
            critic.value_head.weight.copy_(weight)
            critic.value_head.bias.copy_(state.get("bias", torch.zeros(1)))
    critic.train()
    return critic


def critic_values(runner: Any, batch: Any, rows: Any) -> Any:
    """``[b, width]`` values of ``rows`` at the positions predicting their completion tokens.

    ``runner``: the value model or its engine (``forward`` under DDP and autocast)."""
    from r1cli.train.grpo_update import row_slice

    sl = row_slice(batch, rows)
    out = runner.forward(sl.inputs) if hasattr(runner, "backward") else runner(**sl.inputs)
    values = out[:, -sl.keep:].float()  # [b, keep]
    return values.gather(1, sl.index), sl.width


def batch_values(model: Any, batch: Any, micro_batch_size: int | None, token_budget: int | None) -> Any:
    """``[N, C]`` values of every row (no gradient; 0 on padding)."""
    import torch

    from r1cli.train.grpo_update import micro_batches

    out = torch.zeros(batch.completion_ids.shape, dtype=torch.float32, device=batch.completion_ids.device)
    with torch.no_grad():
        for rows in micro_batches(list(range(batch.size)), micro_batch_size, batch.row_lengths(), token_budget):
            idx = torch.tensor(rows, device=batch.input_ids.device)
            v, width = critic_values(model, batch, idx)
            out[idx, :width] = torch.where(batch.completion_mask[idx, :width], v, torch.zeros_like(v))
    return out


def save_critic_state(path: Path, engine: Any) -> None:
    """Weights, optimizer and schedule of the critic in one file, written atomically."""
    import torch

    state = {"model": engine.module.state_dict(), "optimizer": engine.optimizer.state_dict(),
             "scheduler": engine.scheduler.state_dict()}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_critic_state(path: Path, engine: Any) -> None:
    import torch

    if not path.is_file():
        raise R1Error(f"resume: the critic's checkpoint {path} is missing")
    state = torch.load(path, map_location="cpu", weights_only=True)
    engine.module.load_state_dict(state["model"])
    engine.optimizer.load_state_dict(state["optimizer"])
    engine.scheduler.load_state_dict(state["scheduler"])


def save_critic_model(out: Path, critic: Any, tokenizer: Any) -> None:
    """``out``: the trunk as an HF directory, the tokenizer, and ``value_head.safetensors``."""
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    critic.trunk.save_pretrained(out)
    tokenizer.save_pretrained(out)
    head = {k: v.detach().contiguous().cpu() for k, v in critic.value_head.state_dict().items()}
    save_file(head, str(out / HEAD_FILE))
