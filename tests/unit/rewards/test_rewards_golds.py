"""Every benchmark gold verifies against itself inside \\boxed{} (gold wrapping, currency, tuples...)."""

from __future__ import annotations

import json
import warnings

import pytest

from r1cli.rewards import get_reward
from tests.conftest import FIXTURE_BENCHMARKS, full_benchmark_dir


def _golds(full: bool = False) -> dict[str, list[tuple[str, str]]]:
    """(id, gold) pairs per benchmark file: the full files when ``full`` and they are found (see
    :func:`tests.conftest.full_benchmark_dir`), else the fixtures in the repo."""
    d = full_benchmark_dir() if full else None
    if full and d is None:
        warnings.warn(f"full benchmark files not found (no $R1_BENCHMARK_DIR, no ../shared/data/benchmarks): "
                      f"checking the fixture golds in {FIXTURE_BENCHMARKS} only", stacklevel=2)
    out = {}
    for path in sorted((d or FIXTURE_BENCHMARKS).glob("*.jsonl")):
        with open(path, encoding="utf-8") as fh:
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
    golds = _golds(full=True)
    pairs = [p for rows in golds.values() for p in rows]
    # full files: 30 + 30 + 40 + 1319 + 500 = 1919 golds; fixtures: 5 + 5 + 5 + 5 + 43 = 63
    if full_benchmark_dir():
        assert len(pairs) >= 1900
    else:
        assert len(pairs) == 63
    assert _self_verify(pairs) == []
