"""Trainers and the pieces they share.

Shared by SFT and GRPO (generic APIs, no trainer-specific code):

* :mod:`r1cli.train.distributed` — ``init_distributed(device) -> DistributedContext`` (rank,
  world_size, is_main, barrier, all_reduce_sum, broadcast_object), ``unwrap_model``.
* :mod:`r1cli.train.optim` — ``build_optimizer`` (AdamW, fused on CUDA), ``build_scheduler``
  (constant / linear / cosine with ``min_lr_ratio``, linear warmup), ``warmup_steps_for``,
  ``clip_grad_norm``.
* :mod:`r1cli.train.checkpoint` — ``save_checkpoint``, ``find_latest_checkpoint``,
  ``resolve_resume``, ``load_checkpoint``, ``save_hf_model``, ``ensure_eos_consistency``.
* :mod:`r1cli.train.logging` — ``MetricsLogger`` (metrics.jsonl, TensorBoard, W&B),
  ``TrainProgress`` (rich, stderr), ``plot_loss_curve``.

Trainers: :mod:`r1cli.train.sft` (``run_sft(cfg)``). Nothing here imports torch at package import.
"""
