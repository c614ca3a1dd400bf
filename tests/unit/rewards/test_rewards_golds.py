"""Every benchmark gold verifies against itself inside \\boxed{} (gold wrapping, currency, tuples...)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from r1cli.rewards import get_reward

REPO_ROOT = Path(__file__).resolve().parents[3]


def _benchmark_dir() -> Path:
    env = os.environ.get("R1_BENCHMARK_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data" / "benchmarks"


def _golds() -> dict[str, list[tuple[str, str]]]:
    d = _benchmark_dir()
    files = sorted(d.glob("*.jsonl"))
    if not files:
        pytest.fail(f"no benchmark files in {d}: set R1_BENCHMARK_DIR or lay ../shared beside the repo")
    out = {}
    for path in files:
        with open(path) as fh:
            out[path.stem] = [(r["id"], str(r["answer"])) for r in map(json.loads, fh)]
    return out


def _self_verify(pairs: list[tuple[str, str]]) -> list[tuple[str, str, float | None]]:
    """Failures among (id, gold) pairs graded as "\\boxed{gold}" against gold (pooled, deduplicated)."""
    acc = get_reward("accuracy")
    verdicts = acc([f"The final answer is $\\boxed{{{g}}}$." for _, g in pairs], answer=[g for _, g in pairs])
    return [(i, g, v) for (i, g), v in zip(pairs, verdicts, strict=True) if v != 1.0]


def test_fast_subset_of_golds_verify_against_themselves():
    golds = _golds()
    math500 = golds["math500"]
    # the first 40 MATH-500 golds hold the bare-LaTeX traps (3\sqrt{13}, \text{Evelyn}, tuples,
    # complex numbers); three golds carry a currency \$; plus a few integer golds of each set.
    subset = math500[:40] + [p for p in math500 if "\\$" in p[1]]
    subset += [p for name, rows in golds.items() if name != "math500" for p in rows[:5]]
    assert len([p for p in subset if "\\$" in p[1]]) == 3
    assert _self_verify(subset) == []


@pytest.mark.slow
def test_every_benchmark_gold_verifies_against_itself():
    pairs = [p for rows in _golds().values() for p in rows]
    assert len(pairs) >= 1900
    assert _self_verify(pairs) == []
