"""Commands started under torchrun/accelerate: sample/eval shard by rank, one-process commands refuse."""

from __future__ import annotations

import pytest

from r1cli.commands.common import refuse_multi_process, shard_from_launcher
from r1cli.errors import R1Error


def _launch(monkeypatch, rank, world, visible=None):
    for key, value in {"RANK": rank, "WORLD_SIZE": world, "LOCAL_RANK": rank}.items():
        monkeypatch.setenv(key, str(value))
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)


def test_single_process_keeps_its_shard(monkeypatch):
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    assert shard_from_launcher("sample", None, "merge {k}") is None
    assert shard_from_launcher("sample", "1/3", "merge {k}") == "1/3"
    refuse_multi_process("curate", "why")  # no launcher: nothing to refuse


@pytest.mark.parametrize("visible,expected", [(None, "2"), ("4,5,6,7", "6")])
def test_rank_takes_its_shard_and_only_its_gpu(monkeypatch, visible, expected):
    import os

    _launch(monkeypatch, 2, 4, visible)
    assert shard_from_launcher("eval", None, "merge {k}") == "2/4"
    assert os.environ["CUDA_VISIBLE_DEVICES"] == expected


def test_launch_errors(monkeypatch):
    _launch(monkeypatch, 0, 2)
    with pytest.raises(R1Error, match="both split the work"):
        shard_from_launcher("sample", "0/2", "merge {k}")
    with pytest.raises(R1Error, match="tensor_parallel_size=2"):
        shard_from_launcher("sample", None, "merge {k}", tensor_parallel_size=2)
    with pytest.raises(R1Error, match="r1 distill runs as one process.*WORLD_SIZE=2"):
        refuse_multi_process("distill", "why")
