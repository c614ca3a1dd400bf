"""Pure RL math for ``r1 grpo``: advantages, clipped policy losses, KL estimators, aggregation.

No I/O, no config, no globals; torch is imported inside the functions, so importing this package
is cheap. Shapes are documented on each function.

Public API:
    group_advantages(rewards[N], group_size, *, estimator, scale, eps, baseline) -> advantages[N]
    ema_baseline(previous, rewards[N], decay) -> float  (reinforce-ema's moving average)
    gae / token_rewards / value_loss  (r1cli.rl.ppo: PPO's token-level advantages and critic loss)
    policy_loss(logp[B,T], old_logp[B,T], advantages[B], mask[B,T], ...) -> (loss, stats)
    aggregate(values[B,T], mask[B,T], agg, *, norm_len, tokens_in_step, seqs_in_step) -> scalar
    kl_estimate(logp[B,T], ref_logp[B,T], kind) -> [B,T]
    token_logprobs(logits[B,T,V], ids[B,T]) -> [B,T];  entropy_from_logits(logits[B,T,V]) -> [B,T]
    masked_sum / masked_mean
    importance_weights(old_logp[B,T], rollout_logp[B,T], mask[B,T], ...) -> (weights[B,T], stats)
"""

from r1cli.rl.advantages import ESTIMATORS, SCALES, ema_baseline, group_advantages
from r1cli.rl.aggregation import AGGREGATIONS, aggregate, masked_mean, masked_sum
from r1cli.rl.importance import IS_LEVELS, IS_MODES, importance_weights
from r1cli.rl.kl import KL_ESTIMATORS, kl_estimate
from r1cli.rl.logprobs import entropy_from_logits, token_logprobs
from r1cli.rl.losses import LEVELS, policy_loss

__all__ = [
    "AGGREGATIONS",
    "ESTIMATORS",
    "IS_LEVELS",
    "IS_MODES",
    "KL_ESTIMATORS",
    "LEVELS",
    "SCALES",
    "aggregate",
    "ema_baseline",
    "entropy_from_logits",
    "group_advantages",
    "importance_weights",
    "kl_estimate",
    "masked_mean",
    "masked_sum",
    "policy_loss",
    "token_logprobs",
]
