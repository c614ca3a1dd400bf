"""Shared test setup: offline hub, the benchmark folder, and the repo root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Any hub id otherwise hangs 20-50 s on this network-less machine.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

REPO_ROOT = Path(__file__).resolve().parent.parent


def benchmark_dir() -> Path:
    """../shared/data/benchmarks beside the repo, or $R1_BENCHMARK_DIR."""
    env = os.environ.get("R1_BENCHMARK_DIR")
    return Path(env) if env else (REPO_ROOT.parent / "shared" / "data" / "benchmarks")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def benchmarks() -> Path:
    d = benchmark_dir()
    if not (d / "math500.jsonl").is_file():
        pytest.fail(f"benchmark files not found at {d}: set R1_BENCHMARK_DIR or lay ../shared beside the repo")
    return d
