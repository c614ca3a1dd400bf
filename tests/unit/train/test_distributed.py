"""DistributedContext in a single process, and launcher environment parsing."""

import pytest

from r1cli.errors import R1Error
from r1cli.train.distributed import env_world, init_distributed, unwrap_model


def test_env_world_defaults(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    assert env_world() == (0, 1, 0)
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert env_world() == (3, 4, 1)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(R1Error, match="inconsistent"):
        env_world()


def test_single_process_context(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    ctx = init_distributed("cpu")
    assert (ctx.rank, ctx.world_size, ctx.is_main, ctx.is_distributed) == (0, 1, True, False)
    assert ctx.all_reduce_sum(2.5) == 2.5 and ctx.all_reduce_sum(3) == 3
    assert ctx.all_reduce_sum([1, 2]) == [1.0, 2.0]
    assert ctx.shard([0, 1, 2, 3]) == [0, 1, 2, 3]
    assert ctx.all_gather_object({"a": 1}) == [{"a": 1}]
    ctx.barrier()
    ctx.close()


def test_unwrap_model():
    class DistributedDataParallel:
        def __init__(self, m):
            self.module = m

    inner = object()
    assert unwrap_model(DistributedDataParallel(inner)) is inner
    assert unwrap_model(inner) is inner
