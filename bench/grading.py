"""Grading throughput: the pooled ``accuracy`` reward vs a plain sequential math-verify loop.

Builds >= 10,000 synthetic completions against the MATH-500 golds (correct, wrong, unboxed and
messy ones, each with a known label), then measures verdicts per second of

- ``pooled``: ``get_reward("accuracy", workers=2)`` as trainers call it (answer extraction in the
  caller, in-call deduplication of identical (gold, answer) pairs, forked workers, 5 s wall clock);
- ``pooled_no_dedupe``: the same workers fed every item, duplicates included (raw pool throughput);
- ``sequential``: ``verify(parse(gold), parse(completion))`` per item in one process, on every
  ``--sequential-every``-th item (the rate is per item; the subset keeps the run short).

and, on a typical RL mix (``rl_mix``: about 70% integer, 20% fraction and 10% simple-LaTeX golds,
every (gold, answer) pair distinct, verdict cache off), verdicts per second of the accuracy reward with
its exact-number fast path beside the same reward without it (math-verify for every item, pooled) and
beside the plain sequential math-verify loop, with every verdict difference between the fast and the
math-verify path counted; and ``pathological`` inputs (nested powers, 10k-character answers) with the
slowest verdict's wall time, which the per-item timeout bounds.

Reports wall-clock rates and CPU-time rates (the latter do not depend on other jobs sharing the
cores) and how often each method agrees with the known label. Run from the repo root:

    .venv/bin/python bench/grading.py            # writes bench/results/grading.json
    .venv/bin/python bench/grading.py --only mix # the RL mix and pathological inputs only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WORDS = "so we get then the sum of both sides gives hence which means check again let x be it follows".split()


def benchmark_dir() -> Path:
    env = os.environ.get("R1_BENCHMARK_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data" / "benchmarks"


def filler(rng: random.Random, n_words: int) -> str:
    """Reasoning-like noise: words and small numbers (a plain parser may pick those up)."""
    parts = [rng.choice(WORDS) if rng.random() < 0.8 else str(rng.randint(0, 99)) for _ in range(n_words)]
    return " ".join(parts)


def make_completions(golds: list[str], per_gold: int, seed: int) -> list[tuple[str, str, int, str]]:
    """``(completion, gold, label, category)`` rows: label 1 if the final answer equals the gold."""
    rng = random.Random(seed)
    rows = []
    for gold in golds:
        # wrong answers: other golds, minus ones equal to this one as strings or as "x = gold"
        same = gold.split("=")[-1].replace(" ", "")
        others = [g for g in golds if g.split("=")[-1].replace(" ", "") != same]
        for k in range(per_gold):
            think = f"<think>\n{filler(rng, rng.randint(30, 300))}\n</think>\n"
            wrong = rng.choice(others)
            slot = k % 20
            if slot < 6:  # correct, boxed after the reasoning
                rows.append((f"{think}The final answer is $\\boxed{{{gold}}}$.", gold, 1, "correct"))
            elif slot < 11:  # wrong, boxed
                rows.append((f"{think}Therefore the answer is $\\boxed{{{wrong}}}$.", gold, 0, "wrong"))
            elif slot < 14:  # correct, no box
                rows.append((f"{think}The answer is ${gold}$.", gold, 1, "unboxed"))
            elif slot < 16:  # self-correction: the last box is right
                text = f"{think}First I got $\\boxed{{{wrong}}}$. Wait, that is off. So $\\boxed{{{gold}}}$."
                rows.append((text, gold, 1, "messy"))
            elif slot < 17:  # self-correction: the last box is wrong
                text = f"{think}I had $\\boxed{{{gold}}}$, but rechecking gives $\\boxed{{{wrong}}}$."
                rows.append((text, gold, 0, "messy"))
            elif slot < 18:  # R1-Zero tags
                text = f"{think}<answer>{gold}</answer>"
                rows.append((text, gold, 1, "messy"))
            elif slot < 19:  # truncated in the middle of the reasoning
                rows.append((f"<think>\n{filler(rng, 200)} so \\boxed{{{gold}", gold, 0, "truncated"))
            else:  # no answer at all
                rows.append((f"{think}I am not sure.", gold, 0, "no_answer"))
    return rows


def run_sequential(rows: list[tuple[str, str, int, str]]) -> tuple[list[float], float]:
    """The plain loop: parse the gold and the whole completion, verify - one item after another."""
    from math_verify import parse, verify

    verdicts = []
    start = time.perf_counter()
    for completion, gold, _, _ in rows:
        verdicts.append(1.0 if verify(parse(gold), parse(completion)) else 0.0)
    return verdicts, time.perf_counter() - start


def pool_cpu_seconds(key: str) -> float:
    """CPU seconds (user + system) used so far by the live workers of pool ``key``, from /proc."""
    from r1cli.rewards.pool import _POOLS

    pool = _POOLS.get(key)
    total = 0.0
    for worker in pool._workers if pool else []:
        with open(f"/proc/{worker.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return total


def agreement(verdicts: list, rows: list) -> float:
    return sum((v or 0.0) == label for v, (_, _, label, _) in zip(verdicts, rows, strict=True)) / len(rows)


def machine_info() -> dict:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "loadavg_start": list(os.getloadavg()),
    }
    try:
        with open("/proc/cpuinfo") as fh:
            info["cpu_model"] = next(
                line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    try:
        from importlib.metadata import version

        info["math_verify"] = version("math-verify")
        info["latex2sympy2_extended"] = version("latex2sympy2_extended")
    except Exception:
        pass
    return info


def rl_mix_rows(n: int, seed: int) -> list[tuple[str, str]]:
    """``(completion, gold)`` pairs of a typical RL batch: 70% integer, 20% fraction, 10% simple-LaTeX
    golds; half answered right (a third of those in another form: 1/2 as 0.5, 12 as 12.0), half wrong."""
    rng = random.Random(seed)
    rows, seen = [], set()
    while len(rows) < n:
        kind = rng.random()
        right = rng.random() < 0.5
        if kind < 0.7:
            value = rng.randint(-50, 100_000)
            gold = str(value)
            answer = (f"{value}.0" if rng.random() < 0.3 else gold) if right else str(value + rng.choice([-7, -1, 1, 3, 10]))
        elif kind < 0.9:
            a, b = rng.randint(1, 200), rng.randint(2, 64)
            gold = rng.choice([f"\\frac{{{a}}}{{{b}}}", f"{a}/{b}", f"-\\frac{{{a}}}{{{b}}}"])
            sign = "-" if gold.startswith("-") else ""
            if right:
                k = rng.randint(1, 4)
                forms = [f"{sign}\\frac{{{a * k}}}{{{b * k}}}", f"{sign}{a}/{b}", f"{sign}\\dfrac{{{a}}}{{{b}}}"]
                if (10**6) % (b // __import__("math").gcd(a, b)) == 0:
                    forms.append(sign + str(round(a / b, 6)).rstrip("0").rstrip("."))
                answer = rng.choice(forms)
            else:
                answer = f"{sign}\\frac{{{a + 1}}}{{{b}}}"
        else:
            a, b = rng.randint(2, 30), rng.choice([2, 3, 5, 6, 7, 10, 11, 13])
            gold = rng.choice([f"{a}\\sqrt{{{b}}}", f"\\frac{{\\sqrt{{{b}}}}}{{{a}}}", f"{a}\\pi", f"{a}+\\sqrt{{{b}}}"])
            answer = gold if right else gold.replace(str(a), str(a + 1), 1)
            if right and rng.random() < 0.3:
                answer = answer.replace("\\sqrt", "\\sqrt ")  # the same value, spelt differently
        if (gold, answer) in seen:
            continue
        seen.add((gold, answer))
        think = f"<think>\n{filler(rng, rng.randint(20, 120))}\n</think>\n"
        rows.append((f"{think}So the result is $\\boxed{{{answer}}}$.", gold))
    return rows


PATHOLOGICAL = [
    ("5^{5^{5^{5^{5}}}}", "\\boxed{5^{5^{5^{5^{5}}}}}"),
    ("1", "\\boxed{9^{9^{9^{9^{9^{9}}}}}}"),
    ("2", "\\boxed{" + "+".join(["x"] * 5000) + "}"),  # a 10k-character answer
    ("3", "\\boxed{" + "(" * 2000 + "1" + ")" * 2000 + "}"),
    ("4", "\\boxed{" + "1" * 10_000 + "}"),  # a 10k-digit number (the fast path's exact arithmetic)
    ("\\frac{1}{2}", "<think>" + "a " * 5000 + "</think>\\boxed{" + "\\frac{1}{" * 300 + "2" + "}" * 300 + "}"),
]


def run_mix(n: int, seed: int, workers: int, sequential_every: int) -> dict:
    from r1cli.rewards import accuracy as accuracy_module
    from r1cli.rewards import get_reward

    rows = rl_mix_rows(n, seed)
    texts, golds = [r[0] for r in rows], [r[1] for r in rows]
    kinds = Counter("integer" if g.lstrip("-").isdigit() else "fraction" if ("frac" in g or "/" in g) and "sqrt" not in g
                    else "latex" for g in golds)
    fast = get_reward("accuracy", workers=workers, cache=False)
    slow = get_reward("accuracy", workers=workers, cache=False, fast=False)
    fast(["\\boxed{1}"], answer=["\\sqrt{2}"])  # start the pool (timed apart, as in a trainer it is warm)
    accuracy_module._CACHE.clear()
    cpu0, pcpu0 = pool_cpu_seconds(accuracy_module.POOL_KEY), time.process_time()
    start = time.perf_counter()
    v_fast = fast(texts, answer=golds)
    fast_s = time.perf_counter() - start
    fast_cpu = pool_cpu_seconds(accuracy_module.POOL_KEY) - cpu0 + time.process_time() - pcpu0
    print(f"rl mix, fast path: {fast_s:.2f} s", file=sys.stderr)
    cpu0, pcpu0 = pool_cpu_seconds(accuracy_module.POOL_KEY), time.process_time()
    start = time.perf_counter()
    v_slow = slow(texts, answer=golds)
    slow_s = time.perf_counter() - start
    slow_cpu = pool_cpu_seconds(accuracy_module.POOL_KEY) - cpu0 + time.process_time() - pcpu0
    print(f"rl mix, math-verify for every item: {slow_s:.2f} s", file=sys.stderr)
    diffs = [(g, t[-60:], a, b) for t, g, a, b in zip(texts, golds, v_fast, v_slow, strict=True) if a != b]

    subset = rows[::sequential_every]
    import math_verify  # noqa: F401

    cpu0 = time.process_time()
    seq, seq_s = run_sequential([(t, g, 0, "") for t, g in subset])
    seq_cpu = time.process_time() - cpu0
    seq_diffs = sum(1 for s_, f_ in zip(seq, v_fast[::sequential_every], strict=True) if s_ != (f_ or 0.0))
    print(f"rl mix, sequential math-verify ({len(subset)} items): {seq_s:.2f} s", file=sys.stderr)

    patho = get_reward("accuracy", workers=workers, cache=False, timeout_s=5.0)
    worst, verdicts = 0.0, []
    for gold, text in PATHOLOGICAL:
        start = time.perf_counter()
        verdicts.append(patho([text], answer=[gold])[0])
        worst = max(worst, time.perf_counter() - start)
    rate = len(rows) / fast_s
    seq_rate = len(subset) / seq_s
    return {
        "rl_mix": {
            "items": len(rows),
            "golds_by_kind": dict(kinds),
            "cache": "off (distinct pairs, verdict cache disabled)",
            "workers": workers,
            "fast_path": {"seconds": round(fast_s, 3), "verdicts_per_s": round(rate, 1),
                          "cpu_seconds": round(fast_cpu, 2), "verdicts_per_cpu_s": round(len(rows) / fast_cpu, 1),
                          "correct": v_fast.count(1.0)},
            "math_verify_path": {"seconds": round(slow_s, 3), "verdicts_per_s": round(len(rows) / slow_s, 1),
                                 "cpu_seconds": round(slow_cpu, 2)},
            "verdict_differences_fast_vs_math_verify_path": len(diffs),
            "differences": diffs[:20],
            "sequential_math_verify": {
                "items": len(subset), "seconds": round(seq_s, 3), "verdicts_per_s": round(seq_rate, 1),
                "verdicts_per_cpu_s": round(len(subset) / seq_cpu, 1),
                "verdicts_differing_from_r1": seq_diffs,
                "method": "math_verify.verify(parse(gold), parse(completion)), default configs, one process",
            },
            "ratio_fast_vs_sequential": round(rate / seq_rate, 2),
            "ratio_fast_vs_math_verify_path": round(slow_s / fast_s, 2),
        },
        "pathological": {
            "inputs": [f"gold {g[:30]!r}, completion of {len(t)} chars" for g, t in PATHOLOGICAL],
            "timeout_s": 5.0,
            "slowest_verdict_seconds": round(worst, 3),
            "verdicts": verdicts,
            "timeouts": patho.timeouts,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--per-gold", type=int, default=20, help="completions per MATH-500 gold (20 -> 10,000)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sequential-every", type=int, default=5, help="baseline on every k-th item")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "grading.json")
    parser.add_argument("--mix-items", type=int, default=10_000, help="completions in the RL mix")
    parser.add_argument("--only", choices=["mix"], help="run only the RL mix and pathological inputs")
    args = parser.parse_args()

    mix = run_mix(args.mix_items, args.seed, args.workers, args.sequential_every)
    print(json.dumps(mix, indent=2))
    if args.only == "mix":
        result = json.loads(args.out.read_text()) if args.out.exists() else {"bench": "grading"}
        result.update(mix, machine_mix=machine_info(), date_mix=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}", file=sys.stderr)
        return

    from r1cli.rewards import accuracy as accuracy_module
    from r1cli.rewards import get_reward, mathgrade
    from r1cli.rewards.extract import split_answer
    from r1cli.rewards.pool import pool_stats, run_items

    info = machine_info()
    with open(benchmark_dir() / "math500.jsonl") as fh:
        golds = [str(json.loads(line)["answer"]) for line in fh]
    rows = make_completions(golds, args.per_gold, args.seed)
    texts, answers = [r[0] for r in rows], [r[1] for r in rows]
    print(
        f"{len(rows)} completions over {len(golds)} golds: {dict(Counter(r[3] for r in rows))}",
        file=sys.stderr,
    )

    # Pooled, as a trainer calls it. The first (tiny) call starts the pool: timed separately.
    acc = get_reward("accuracy", workers=args.workers)
    start = time.perf_counter()
    acc(["\\boxed{1}"], answer=["1"])
    startup_s = time.perf_counter() - start
    accuracy_module._CACHE.clear()
    cpu0, pcpu0 = pool_cpu_seconds(accuracy_module.POOL_KEY), time.process_time()
    start = time.perf_counter()
    pooled = acc(texts, answer=answers)
    pooled_s = time.perf_counter() - start
    pooled_cpu = pool_cpu_seconds(accuracy_module.POOL_KEY) - cpu0 + time.process_time() - pcpu0
    unique = len({(g, *(split_answer(t) or (None, None))) for t, g in zip(texts, answers, strict=True)})
    print(f"pooled: {pooled_s:.1f} s", file=sys.stderr)

    # Workers fed every item (no deduplication, no verdict cache): raw parallel throughput.
    keys = [(g, *(split_answer(t) or (None, None))) for t, g in zip(texts, answers, strict=True)]
    # a second pool, so its workers start as cold as the first ones did (no parsed golds cached)
    run_items("bench-raw", abs, [(1,)] * args.workers, 5.0, workers=args.workers, warm=accuracy_module._warm)
    cpu0, pcpu0 = pool_cpu_seconds("bench-raw"), time.process_time()
    start = time.perf_counter()
    raw = run_items("bench-raw", mathgrade.grade, keys, 5.0, workers=args.workers)
    raw_s = time.perf_counter() - start
    raw_cpu = pool_cpu_seconds("bench-raw") - cpu0 + time.process_time() - pcpu0
    raw_verdicts = [r.value if r.status == "ok" else 0.0 for r in raw]
    print(f"pooled, no dedupe: {raw_s:.1f} s", file=sys.stderr)

    # Plain sequential loop on a subset.
    subset = rows[:: args.sequential_every]
    import math_verify  # noqa: F401  (import time is not grading time)

    cpu0 = time.process_time()
    seq, seq_s = run_sequential(subset)
    seq_cpu = time.process_time() - cpu0
    print(f"sequential ({len(subset)} items): {seq_s:.1f} s", file=sys.stderr)

    pooled_rate = len(rows) / pooled_s
    raw_rate = len(rows) / raw_s
    seq_rate = len(subset) / seq_s
    info["loadavg_end"] = list(os.getloadavg())
    result = {
        "bench": "grading",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": "python bench/grading.py " + " ".join(sys.argv[1:]),
        "machine": info,
        "completions": len(rows),
        "golds": len(golds),
        "categories": dict(Counter(r[3] for r in rows)),
        "pooled": {
            "workers": args.workers,
            "items": len(rows),
            "unique_gold_answer_pairs": unique,
            "seconds": round(pooled_s, 3),
            "pool_startup_seconds": round(startup_s, 3),
            "verdicts_per_s": round(pooled_rate, 1),
            "cpu_seconds": round(pooled_cpu, 2),
            "verdicts_per_cpu_s": round(len(rows) / pooled_cpu, 1),
            "timeouts": acc.timeouts,
            "label_agreement": round(agreement(pooled, rows), 4),
        },
        "pooled_no_dedupe": {
            "workers": args.workers,
            "items": len(keys),
            "seconds": round(raw_s, 3),
            "verdicts_per_s": round(raw_rate, 1),
            "cpu_seconds": round(raw_cpu, 2),
            "verdicts_per_cpu_s": round(len(rows) / raw_cpu, 1),
            "timeouts": sum(r.status == "timeout" for r in raw),
            "label_agreement": round(agreement(raw_verdicts, rows), 4),
        },
        "sequential": {
            "items": len(subset),
            "subset": f"every {args.sequential_every}th completion (same category mix); rate is per item",
            "seconds": round(seq_s, 3),
            "verdicts_per_s": round(seq_rate, 1),
            "cpu_seconds": round(seq_cpu, 2),
            "verdicts_per_cpu_s": round(len(subset) / seq_cpu, 1),
            "label_agreement": round(agreement(seq, subset), 4),
            "method": "math_verify.verify(parse(gold), parse(completion)), default configs, one process",
        },
        "ratio_pooled_vs_sequential": round(pooled_rate / seq_rate, 2),
        "ratio_pooled_no_dedupe_vs_sequential": round(raw_rate / seq_rate, 2),
        "ratio_per_cpu_s_pooled_vs_sequential": round((len(rows) / pooled_cpu) / (len(subset) / seq_cpu), 2),
        "pool_stats": {
            "pooled": vars(pool_stats(accuracy_module.POOL_KEY)),
            "no_dedupe": vars(pool_stats("bench-raw")),
        },
        **mix,
        "notes": (
            "2-core machine shared with other jobs (see loadavg): verdicts_per_s is wall-clock and depends "
            "on that load; verdicts_per_cpu_s counts CPU time of the parent and the pool workers and does not."
        ),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("pooled", "pooled_no_dedupe", "sequential")}, indent=2))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
