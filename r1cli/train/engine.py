"""How a model is stepped: plain / DDP (:class:`TorchEngine`) or DeepSpeed ZeRO (:class:`DeepSpeedEngine`).

The trainer only calls ``forward``, ``backward(loss, sync=...)``, ``step()``, ``save(...)`` and
``load(...)``; :func:`build_engine` is the one place that branches on the kind.

Loss scaling contract: the trainer passes ``loss = sum_of_token_losses * loss_scale`` where
``loss_scale = world_size / tokens_in_optimizer_step`` (DDP and ZeRO average gradients over ranks,
so multiplying by ``world_size`` turns that average back into a sum). The DeepSpeed engine also
undoes DeepSpeed's own division by the accumulation steps.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from r1cli.errors import MissingDependencyError, R1Error
from r1cli.train import checkpoint as ckpt

PRESET_DS = Path(__file__).resolve().parent.parent / "presets" / "deepspeed"


def autocast(device: str, bf16: bool) -> Any:
    """bf16 autocast on ``device`` when asked, else a null context."""
    if not bf16:
        return contextlib.nullcontext()
    import torch

    return torch.autocast(device_type="cuda" if device.startswith("cuda") else "cpu", dtype=torch.bfloat16)


class TorchEngine:
    """Single process or DDP: torch AdamW + LambdaLR from :mod:`r1cli.train.optim`."""

    kind = "torch"

    def __init__(self, model: Any, optimizer: Any, scheduler: Any, ctx: Any, *, bf16: bool,
                 max_grad_norm: float | None):
        self.module = model
        self.ctx = ctx
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.bf16 = bf16
        self.max_grad_norm = max_grad_norm
        self.model = model
        if ctx.is_distributed:
            from torch.nn.parallel import DistributedDataParallel

            dev = [int(ctx.device.split(":")[1])] if ctx.device.startswith("cuda") else None
            self.model = DistributedDataParallel(model, device_ids=dev)

    def forward(self, inputs: dict) -> Any:
        with autocast(self.ctx.device, self.bf16):
            return self.model(**inputs)

    def backward(self, loss: Any, *, sync: bool) -> None:
        """Accumulate gradients; under DDP only the last micro-batch of a step (``sync``) all-reduces."""
        no_sync = getattr(self.model, "no_sync", None)
        with (contextlib.nullcontext() if sync or no_sync is None else no_sync()):
            loss.backward()

    def step(self) -> float:
        """Clip, update, advance the schedule, zero the gradients; return the pre-clip grad norm.

        A NaN/inf norm skips the update (weights stay as they were) and is returned for the caller.
        """
        import math

        from r1cli.train.optim import clip_grad_norm

        norm = clip_grad_norm(self.module.parameters(), self.max_grad_norm)
        if not math.isfinite(norm):
            self.optimizer.zero_grad(set_to_none=True)
            return norm
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return norm

    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def save(self, output_dir: str, step: int, tokenizer: Any, extra: dict, config_yaml: str,
             save_total_limit: int | None) -> Path:
        rngs = self.ctx.all_gather_object(ckpt.capture_rng_state())
        path = ckpt.save_checkpoint(output_dir, step, self.module, tokenizer, self.optimizer, self.scheduler,
                                    extra, config_yaml, save_total_limit, rng_states=rngs,
                                    is_main=self.ctx.is_main)
        self.ctx.barrier()
        return path

    def load(self, path: Path) -> dict:
        return ckpt.load_checkpoint(path, self.module, self.optimizer, self.scheduler, rank=self.ctx.rank)

    def final_state_dict(self) -> dict | None:
        return None


def deepspeed_config(name: str, *, micro_batch: int, grad_accum: int, world_size: int,
                     max_grad_norm: float | None, bf16: bool) -> dict:
    """Load a shipped (``zero2``/``zero3``) or user JSON config and fill its ``"auto"`` values."""
    path = PRESET_DS / f"{name}.json" if name in ("zero2", "zero3") else Path(name)
    if not path.is_file():
        raise R1Error(f"train.deepspeed '{name}': not a shipped config (zero2, zero3) or a JSON file")
    from r1cli.data.io import read_json_file

    cfg = read_json_file(path)
    if not isinstance(cfg, dict):
        raise R1Error(f"{path}: a DeepSpeed config is a JSON object, found {type(cfg).__name__}")
    fill = {"train_micro_batch_size_per_gpu": micro_batch, "gradient_accumulation_steps": grad_accum,
            "train_batch_size": micro_batch * grad_accum * world_size,
            "gradient_clipping": max_grad_norm or 0.0}
    for k, v in fill.items():
        if cfg.get(k, "auto") == "auto":
            cfg[k] = v
    if cfg.get("bf16", {}).get("enabled") == "auto":
        cfg["bf16"]["enabled"] = bf16
    for key in ("optimizer", "scheduler"):
        if key in cfg:
            raise R1Error(f"{path}: remove '{key}': r1 builds the AdamW optimizer and LR schedule itself")
    return cfg


class DeepSpeedEngine(TorchEngine):
    """DeepSpeed ZeRO-2/3 around our AdamW and schedule (client optimizer and scheduler)."""

    kind = "deepspeed"

    def __init__(self, model: Any, optimizer: Any, scheduler: Any, ctx: Any, *, bf16: bool,
                 max_grad_norm: float | None, ds_config: dict):
        try:
            import deepspeed
        except ImportError:
            raise MissingDependencyError("deepspeed", "deepspeed", "train.deepspeed (ZeRO)") from None
        if not ctx.is_distributed:
            deepspeed.init_distributed(dist_backend="nccl" if ctx.device.startswith("cuda") else "gloo")
        self.module = model
        self.ctx = ctx
        self.bf16 = False  # DeepSpeed's own bf16 section handles precision
        self.max_grad_norm = max_grad_norm
        self.ds_config = ds_config
        self.gas = int(ds_config["gradient_accumulation_steps"])
        self.model, self.optimizer, _, self.scheduler = deepspeed.initialize(
            model=model, optimizer=optimizer, lr_scheduler=scheduler, config=ds_config)
        self._micro = 0

    def backward(self, loss: Any, *, sync: bool) -> None:
        self.model.backward(loss * self.gas)  # DeepSpeed divides by the accumulation steps
        self._micro += 1
        if not sync:
            self.model.step()  # inside accumulation: DeepSpeed only counts the micro-step

    def step(self) -> float:
        self.model.step()  # boundary: clip, update, schedule, zero grads
        norm = self.model.get_global_grad_norm()
        return float(norm) if norm is not None else float("nan")

    def lr(self) -> float:
        return float(self.model.get_lr()[0])

    def _zero3(self) -> bool:
        return int(self.ds_config.get("zero_optimization", {}).get("stage", 0)) == 3

    def final_state_dict(self) -> dict | None:
        """Full weights on rank 0 (ZeRO-3 gathers them; a collective call on every rank)."""
        if self._zero3():
            return self.model._zero3_consolidated_16bit_state_dict()
        return None

    def save(self, output_dir: str, step: int, tokenizer: Any, extra: dict, config_yaml: str,
             save_total_limit: int | None) -> Path:
        import shutil

        tmp = Path(output_dir) / f".tmp-{ckpt.PREFIX}{step}"
        if self.ctx.is_main and tmp.exists():
            shutil.rmtree(tmp)
        self.ctx.barrier()
        self.model.save_checkpoint(str(tmp / "deepspeed"), tag="state")  # every rank writes its shard
        state_dict = self.final_state_dict()
        rngs = self.ctx.all_gather_object(ckpt.capture_rng_state())
        self.ctx.barrier()
        path = ckpt.save_checkpoint(output_dir, step, self.module, tokenizer, None, None, extra, config_yaml,
                                    save_total_limit, state_dict=state_dict, rng_states=rngs,
                                    is_main=self.ctx.is_main, keep_tmp=True)
        self.ctx.barrier()
        return path

    def load(self, path: Path) -> dict:
        self.model.load_checkpoint(str(Path(path) / "deepspeed"), tag="state")
        return ckpt.load_checkpoint(path, self.module, None, None, rank=self.ctx.rank, load_weights=False)


def build_engine(model: Any, train: Any, ctx: Any, *, total_steps: int, warmup_steps: int, bf16: bool) -> Any:
    """The engine for ``train`` (an ``SFTTrainSection``-like object)."""
    from r1cli.train.optim import build_optimizer, build_scheduler

    # DeepSpeed wraps the client optimizer around its flat partitions: keep the foreach AdamW it was
    # verified with; elsewhere the fused kernel (CUDA, CPU)
    optimizer = build_optimizer(model, lr=train.learning_rate, weight_decay=train.weight_decay,
                                betas=(train.adam_beta1, train.adam_beta2), eps=train.adam_epsilon,
                                fused=False if train.deepspeed else None)
    scheduler = build_scheduler(optimizer, schedule=train.lr_scheduler, total_steps=total_steps,
                                warmup_steps=warmup_steps, min_lr_ratio=train.min_lr_ratio)
    if train.deepspeed:
        cfg = deepspeed_config(train.deepspeed, micro_batch=train.per_device_batch_size,
                               grad_accum=train.gradient_accumulation_steps, world_size=ctx.world_size,
                               max_grad_norm=train.max_grad_norm, bf16=bf16)
        return DeepSpeedEngine(model, optimizer, scheduler, ctx, bf16=bf16, max_grad_norm=train.max_grad_norm,
                               ds_config=cfg)
    return TorchEngine(model, optimizer, scheduler, ctx, bf16=bf16, max_grad_norm=train.max_grad_norm)
