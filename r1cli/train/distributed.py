"""Process-group setup shared by every trainer (SFT, GRPO): one object, :class:`DistributedContext`.

The same script runs unchanged as a single process, under ``torchrun --nproc-per-node N`` and under
``accelerate launch`` (both export ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT``). With ``WORLD_SIZE > 1`` a process group is created: ``nccl`` when CUDA is used,
``gloo`` on CPU. Only rank 0 writes files (``ctx.is_main``); reductions go through
:meth:`DistributedContext.all_reduce_sum`, which is a no-op copy in a single process.

torch is imported inside functions so that importing this module stays cheap.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from r1cli.errors import R1Error


def env_world() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from the launcher's environment (``(0, 1, 0)`` when unset).

    torchrun and ``accelerate launch`` set ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``; a plain
    ``python -m r1cli`` sets none of them.
    """

    def _int(name: str, default: int) -> int:
        raw = os.environ.get(name)
        if raw in (None, ""):
            return default
        try:
            return int(raw)
        except ValueError:
            raise R1Error(f"environment variable {name}={raw!r} is not an integer") from None

    world = _int("WORLD_SIZE", 1)
    rank = _int("RANK", 0)
    local = _int("LOCAL_RANK", rank)
    if world < 1 or not 0 <= rank < world:
        raise R1Error(f"inconsistent launcher environment: RANK={rank}, WORLD_SIZE={world}")
    return rank, world, local


def pick_device(requested: str = "auto", local_rank: int = 0) -> str:
    """``"auto"`` -> ``cuda:<local_rank>`` when CUDA is available, else ``cpu``; other values pass."""
    import torch

    if requested == "auto":
        return f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise R1Error(f"device '{requested}' was asked for but CUDA is not available; use --device cpu")
    if requested == "cuda":
        return f"cuda:{local_rank}"
    return requested


@dataclass
class DistributedContext:
    """Who this process is and how it talks to the others.

    Attributes: ``rank`` (global index), ``world_size`` (number of processes), ``local_rank``
    (index on this node), ``device`` (``"cpu"`` or ``"cuda:k"``), ``backend`` (``"gloo"``,
    ``"nccl"`` or ``None`` when single-process), ``owns_group`` (this object created the process
    group and will destroy it in :meth:`close`).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"
    backend: str | None = None
    owns_group: bool = field(default=False, repr=False)

    @property
    def is_main(self) -> bool:
        """True on rank 0: the only process that writes checkpoints, logs and plots."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        """Wait for every rank (no-op in a single process)."""
        if self.is_distributed:
            import torch.distributed as dist

            dist.barrier()

    def all_reduce_sum(self, value: Any) -> Any:
        """Sum ``value`` over ranks. Tensors are reduced in place and returned; Python numbers
        (or lists of numbers) are reduced in float64 and returned as the same kind of value."""
        import torch

        if isinstance(value, torch.Tensor):
            if self.is_distributed:
                import torch.distributed as dist

                dist.all_reduce(value, op=dist.ReduceOp.SUM)
            return value
        is_list = isinstance(value, (list, tuple))
        t = torch.tensor(list(value) if is_list else [value], dtype=torch.float64, device=self.device)
        if self.is_distributed:
            import torch.distributed as dist

            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        out = t.tolist()
        if is_list:
            return out
        return type(value)(out[0]) if isinstance(value, (int, float)) else out[0]

    def all_reduce_mean(self, value: Any) -> Any:
        """Mean over ranks of a Python number (float)."""
        return float(self.all_reduce_sum(float(value))) / self.world_size

    def broadcast_object(self, obj: Any, src: int = 0) -> Any:
        """Rank ``src``'s ``obj`` on every rank (picklable objects)."""
        if not self.is_distributed:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=src)
        return box[0]

    def all_gather_object(self, obj: Any) -> list[Any]:
        """``[obj of rank 0, obj of rank 1, ...]`` on every rank."""
        if not self.is_distributed:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def shard(self, items: list[Any]) -> list[Any]:
        """This rank's strided share of ``items``: ``items[rank::world_size]``."""
        return items[self.rank :: self.world_size]

    def close(self, clean: bool = True) -> None:
        """Destroy the process group if this context created it. ``clean=False`` (on an error path,
        where the other ranks may never arrive) skips the closing barrier."""
        if self.owns_group:
            import gc

            import torch.distributed as dist

            if dist.is_initialized():
                # Tear down symmetrically: no rank shuts its gloo/NCCL pairs while a peer is still
                # inside a collective or about to start one (an early shutdown was seen to abort the
                # other rank with "terminate called without an active exception"), and drop
                # unreachable DDP reducers that still hold the group before shutting it down.
                gc.collect()
                try:
                    if clean:
                        dist.barrier()
                finally:
                    dist.destroy_process_group()
            self.owns_group = False


def init_distributed(device: str = "auto", *, backend: str | None = None, timeout_s: float = 1800.0
                     ) -> DistributedContext:
    """Read the launcher environment, pick the device and (when ``WORLD_SIZE > 1``) join the group.

    ``backend`` defaults to ``nccl`` on CUDA and ``gloo`` on CPU. If a process group already exists
    (e.g. DeepSpeed or accelerate created it) it is reused and left to its owner.
    """
    import datetime

    import torch

    rank, world, local = env_world()
    dev = pick_device(device, local)
    if dev.startswith("cuda"):
        torch.cuda.set_device(torch.device(dev))
    ctx = DistributedContext(rank=rank, world_size=world, local_rank=local, device=dev)
    if world > 1:
        import torch.distributed as dist

        if not dist.is_available():
            raise R1Error("WORLD_SIZE > 1 but this torch build has no torch.distributed")
        ctx.backend = backend or ("nccl" if dev.startswith("cuda") else "gloo")
        if not dist.is_initialized():
            os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
            os.environ.setdefault("MASTER_PORT", "29500")
            dist.init_process_group(backend=ctx.backend, rank=rank, world_size=world,
                                    timeout=datetime.timedelta(seconds=timeout_s))
            ctx.owns_group = True
        else:
            ctx.backend = dist.get_backend()
    return ctx


def unwrap_model(model: Any) -> Any:
    """The bare ``nn.Module`` inside DDP / DeepSpeed / ``torch.compile`` wrappers."""
    seen = 0
    while seen < 8:
        seen += 1
        if hasattr(model, "module") and model.__class__.__name__ in (
            "DistributedDataParallel", "DataParallel", "DeepSpeedEngine", "FullyShardedDataParallel"):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            break
    return model
