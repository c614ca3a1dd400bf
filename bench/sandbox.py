"""Per-run cost of the code sandbox: with the bubblewrap filesystem wall vs without it.

The ``code`` reward runs one sandboxed process per (completion, test), so the wall's setup (user,
mount, PID, network, IPC, UTS namespaces, ~10 bind mounts, a private /proc and /dev) is paid per
completion. Measured, alternating the two modes so load drifts hit both alike:

- ``run``: ``run_python`` of a stdin/stdout program (read two ints, print the sum) -> ms per run;
- ``reward``: ``get_reward("code", workers=W)`` on a batch of completions x 2 tests -> runs per second.

Arms: ``walled`` (the default now), ``unwalled`` (``fs_isolation=False``: same harness, rlimits, uid
drop, network and PID namespaces, no bwrap) and ``before`` (the sandbox as it was before the wall,
loaded from git revision ``--baseline-rev``; ``run`` only). Run from the repo root (the machine load
is recorded beside the numbers):

    .venv/bin/python bench/sandbox.py            # writes bench/results/sandbox.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PROGRAM = "a, b = map(int, input().split())\nprint(a + b)"
TESTS = [{"input": "1 2\n", "output": "3\n"}, {"input": "5 7\n", "output": "12\n"}]


BASELINE_REV = "a6e2831"  # the last commit before the filesystem wall


def load_baseline(rev: str, into: Path):
    """The pre-wall sandbox (stdlib only) from git ``rev``, as a module; None if git cannot show it."""
    for name in ("sandbox.py", "sandbox_child.py"):
        shown = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:r1cli/rewards/{name}"],
                               capture_output=True, text=True)
        if shown.returncode != 0:
            return None
        (into / name).write_text(shown.stdout)
    spec = importlib.util.spec_from_file_location("sandbox_before", into / "sandbox.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["sandbox_before"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def time_runs(n: int, walled: bool | None, before=None) -> list[float]:
    from r1cli.rewards.sandbox import run_python

    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        if walled is None:
            res = before.run_python(PROGRAM, stdin="1 2\n")
        else:
            res = run_python(PROGRAM, stdin="1 2\n", fs_isolation=walled)
        out.append(time.perf_counter() - t0)
        assert res.returncode == 0 and res.stdout.strip() == "3", res.stderr
    return out


def time_reward(batch: int, workers: int, walled: bool) -> float:
    from r1cli.rewards import get_reward

    fn = get_reward("code", workers=workers, fs_isolation=walled)
    completions = [f"```python\n{PROGRAM}\n```"] * batch
    t0 = time.perf_counter()
    scores = fn(completions, tests=[TESTS] * batch)
    elapsed = time.perf_counter() - t0
    assert scores == [1.0] * batch, scores
    return batch * len(TESTS) / elapsed


def summary(seconds: list[float]) -> dict:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 2),
        "p10_ms": round(ms[len(ms) // 10], 2),
        "p90_ms": round(ms[(len(ms) * 9) // 10], 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="single runs per mode (in rounds of 10)")
    parser.add_argument("--batch", type=int, default=64, help="completions per reward call")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline-rev", default=BASELINE_REV, help="git revision of the pre-wall sandbox")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "sandbox.json"))
    args = parser.parse_args()

    from r1cli.rewards.sandbox import sandbox_choice

    load_before = open("/proc/loadavg").read().split()[:3]
    t0 = time.perf_counter()
    walled_choice = sandbox_choice(None, True)
    probe_s = time.perf_counter() - t0
    sandbox_choice(None, False)
    before = load_baseline(args.baseline_rev, Path(tempfile.mkdtemp(prefix="r1-bench-before-")))
    arms = {"walled": True, "unwalled": False} | ({"before": None} if before else {})
    runs: dict[str, list[float]] = {arm: [] for arm in arms}
    for walled in arms.values():
        time_runs(5, walled, before)  # warm-up (the baseline probes its interpreter here)
    for _ in range(max(1, args.runs // 10)):
        for arm, walled in arms.items():
            runs[arm] += time_runs(10, walled, before)
    rates: dict[str, list[float]] = {"walled": [], "unwalled": []}
    for _ in range(3):
        rates["walled"].append(time_reward(args.batch, args.workers, True))
        rates["unwalled"].append(time_reward(args.batch, args.workers, False))
    per_run = {arm: summary(times) for arm, times in runs.items()}
    run_w = per_run["walled"]
    result = {
        "what": "code sandbox per-run cost: bubblewrap filesystem wall on (walled), off (unwalled), and the pre-wall sandbox from git (before)",
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "loadavg_before": load_before,
            "euid": os.geteuid(),
        },
        "interpreter": walled_choice.interpreter,
        "runtime_binds": list(walled_choice.runtime.binds) if walled_choice.runtime else [],
        "probe_once_per_process_s": round(probe_s, 3),
        "run": {
            **per_run,
            "overhead_vs_unwalled_median_ms": round(run_w["median_ms"] - per_run["unwalled"]["median_ms"], 2),
            "overhead_vs_before_median_ms": (
                round(run_w["median_ms"] - per_run["before"]["median_ms"], 2) if before else None
            ),
            "baseline_rev": args.baseline_rev if before else None,
        },
        "reward": {
            "batch": args.batch, "tests_per_completion": len(TESTS), "workers": args.workers,
            "walled_runs_per_s": round(statistics.median(rates["walled"]), 1),
            "unwalled_runs_per_s": round(statistics.median(rates["unwalled"]), 1),
        },
    }
    result["machine"]["loadavg_after"] = open("/proc/loadavg").read().split()[:3]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
