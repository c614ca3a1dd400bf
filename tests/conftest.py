"""Shared test setup: offline hub, the benchmark folders, and the repo root.

Tests read benchmarks from the few-row fixtures in the repo (``tests/fixtures/benchmarks``, see its
README), so the suite passes on any clone. Only the full-gold check reads the full files, when
:func:`full_benchmark_dir` finds them.
"""

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
FIXTURE_BENCHMARKS = REPO_ROOT / "tests" / "fixtures" / "benchmarks"


def benchmark_dir() -> Path:
    """The fixture benchmarks shipped in the repo: a few rows of each file benchmark."""
    return FIXTURE_BENCHMARKS


def full_benchmark_dir() -> Path | None:
    """The full benchmark files: ``$R1_BENCHMARK_DIR``, else ``../shared/data/benchmarks`` beside the
    clone; None when neither holds ``math500.jsonl``."""
    env = os.environ.get("R1_BENCHMARK_DIR")
    for d in ([Path(env)] if env else []) + [REPO_ROOT.parent / "shared" / "data" / "benchmarks"]:
        if (d / "math500.jsonl").is_file() and d.resolve() != FIXTURE_BENCHMARKS.resolve():
            return d
    return None


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def benchmarks() -> Path:
    """The fixture benchmark folder (point R1_BENCHMARK_DIR here to resolve benchmark names)."""
    return FIXTURE_BENCHMARKS


def pytest_collection_modifyitems(config, items):
    """Tests marked ``needs_bwrap`` run the code sandbox for real, which needs bubblewrap (a system
    package, like a GPU for the CUDA tests). Without it they skip with the reason; CI installs it and
    sets R1_REQUIRE_BWRAP=1, so there they can never skip."""
    import shutil

    if shutil.which("bwrap", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/bin", "/bin"])):
        return
    if os.environ.get("R1_REQUIRE_BWRAP") == "1":
        raise pytest.UsageError("R1_REQUIRE_BWRAP=1 but bubblewrap ('bwrap') is not installed")
    skip = pytest.mark.skip(reason="bubblewrap is not installed (apt-get install bubblewrap): the code sandbox's "
                                   "filesystem wall needs it")
    for item in items:
        if item.get_closest_marker("needs_bwrap"):
            item.add_marker(skip)
