"""Compare r1's `accuracy` reward with the verdicts math-verify's own test tables expect.

The tables are NOT in this repo (they are math-verify's): point --tests at the tests/ folder of a
huggingface/Math-Verify checkout. Run from the repo root:

    .venv/bin/python bench/mathverify_tables.py --tests ../Math-Verify/tests

Outputs: bench/results/grading_mathverify_tables.json (counts, per test function, every disagreement)
and, with --cases FILE, every collected case with all verdicts.

For every parametrized test whose argument names hold a gold string, a prediction string and an
expected 0/1/True/False ("gold", "pred", "expected"/"result"), each case is graded:

- r1      : get_reward("accuracy", workers=1, cache=False)([pred], answer=[gold])[0]
            (None -> 0), one case per call; r1 bounds each item with its own 5 s wall clock;
- mv_test : whether the installed math-verify passes that very test case (the test function itself
            is called with the case's arguments, so its special options apply), turned into the
            verdict math-verify gave: expected if the assertion holds, else 1 - expected;
- mv_plain: math-verify with library defaults, verify(parse(gold), parse(pred)) - no options.

Extra per-case arguments (precision, allow_set_relation_comp, match_types) and the options each
test function passes to compare_strings are recorded with the case.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import signal
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.dont_write_bytecode = True

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SRC = Path(".")  # set from --tests in main()
MODULES = ["test_all", "test_mixed_number_extraction", "test_yujianll", "test_failed_latex_span"]
GOLD_NAMES = ("gold",)
PRED_NAMES = ("pred", "prediction")
EXPECTED_NAMES = ("expected", "result")
CASE_TIMEOUT_S = 60  # guard for the math-verify reference calls (r1 has its own 5 s per item)


class _Timeout(BaseException):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def call_options(module_source: str) -> dict[str, str]:
    """For each test function: how it calls the grader (compare_strings keywords or parse/verify)."""
    tree = ast.parse(module_source)
    out: dict[str, str] = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test"):
            continue
        calls = [n for n in ast.walk(node) if isinstance(n, ast.Call)]
        cs = [c for c in calls if isinstance(c.func, ast.Name) and c.func.id == "compare_strings"]
        if cs:
            out[node.name] = "compare_strings(gold, pred, " + ", ".join(
                f"{k.arg}={ast.unparse(k.value)}" for k in cs[0].keywords) + ")"
        elif any(isinstance(c.func, ast.Name) and c.func.id == "verify" for c in calls):
            seg = [ast.unparse(n) for n in ast.walk(node) if isinstance(n, ast.Assert)]
            out[node.name] = seg[0] if seg else "verify(...)"
    return out


def param_sets(func) -> list[tuple[list[str], list[tuple]]]:
    """The parametrize marks of a test function: (argnames, [argvalues tuple, ...])."""
    sets = []
    for mark in getattr(func, "pytestmark", []):
        if mark.name != "parametrize":
            continue
        names, values = mark.args[0], mark.args[1]
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        rows = []
        for v in values:
            v = tuple(v.values) if hasattr(v, "values") and hasattr(v, "marks") else v  # pytest.param
            rows.append(tuple(v) if isinstance(v, (tuple, list)) and len(names) > 1 else (v,))
        sets.append((names, rows))
    return sets


def pick(names: list[str], wanted: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in wanted), None)


def collect():
    sys.path.insert(0, str(SRC))
    cases, functions = [], []
    for modname in MODULES:
        source = (SRC / f"{modname}.py").read_text(encoding="utf-8")
        options = call_options(source)
        module = importlib.import_module(modname)
        for fname in [n.name for n in ast.parse(source).body
                      if isinstance(n, ast.FunctionDef) and n.name.startswith("test")]:
            func = getattr(module, fname)
            sets = param_sets(func)
            if not sets:
                functions.append({"module": modname, "test": fname, "taken": 0, "skipped": 1,
                                  "why_skipped": "not parametrized (inline asserts, no gold/pred/expected table)"})
                continue
            taken = skipped = 0
            why = set()
            for names, rows in sets:
                g, p, e = pick(names, GOLD_NAMES), pick(names, PRED_NAMES), pick(names, EXPECTED_NAMES)
                for idx, row in enumerate(rows):
                    args = dict(zip(names, row, strict=False))
                    ok = (g and p and e and isinstance(args.get(g), str) and isinstance(args.get(p), str)
                          and (args.get(e) in (0, 1) or isinstance(args.get(e), bool)))
                    if not ok:
                        skipped += 1
                        why.add(f"arguments {names} are not (gold, pred, expected)")
                        continue
                    taken += 1
                    extra = {k: v for k, v in args.items() if k not in (g, p, e)}
                    cases.append({"module": modname, "test": fname, "index": idx, "gold": args[g],
                                  "pred": args[p], "expected": int(args[e]), "case_args": extra,
                                  "test_call": options.get(fname, ""), "_func": func, "_args": args})
            functions.append({"module": modname, "test": fname, "taken": taken, "skipped": skipped,
                              "why_skipped": "; ".join(sorted(why)) or None,
                              "test_call": options.get(fname, "")})
    return cases, functions


def mv_reference(case) -> tuple[int | None, str]:
    """(verdict math-verify 0.9 gives under the test's own call, status)."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_TIMEOUT_S)
    try:
        case["_func"](**case["_args"])
        return case["expected"], "pass"
    except AssertionError:
        return 1 - case["expected"], "fail"
    except _Timeout:
        return None, "timeout"
    except Exception as exc:  # noqa: BLE001
        return None, f"error: {type(exc).__name__}: {exc}"[:200]
    finally:
        signal.alarm(0)


def mv_plain(gold: str, pred: str) -> int | None:
    from math_verify import parse, verify
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_TIMEOUT_S)
    try:
        return int(bool(verify(parse(gold), parse(pred))))
    except _Timeout:
        return None
    except Exception:  # noqa: BLE001
        return None
    finally:
        signal.alarm(0)


def main() -> None:
    import argparse

    global SRC
    parser = argparse.ArgumentParser(description="r1's grader on math-verify's own test tables")
    parser.add_argument("--tests", type=Path, required=True, help="tests/ of a huggingface/Math-Verify checkout")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "grading_mathverify_tables.json")
    parser.add_argument("--cases", type=Path, default=None, help="also write every case with its verdicts here")
    args = parser.parse_args()
    SRC = args.tests.resolve()
    cases, functions = collect()
    from r1cli.rewards import get_reward
    from r1cli.rewards.extract import split_answer
    from r1cli.rewards.mathgrade import gold_parts, gold_sources

    acc = get_reward("accuracy", workers=1, cache=False)
    t0 = time.time()
    for n, case in enumerate(cases):
        start = time.time()
        raw = acc([case["pred"]], answer=[case["gold"]])[0]
        case["r1_raw"] = raw
        case["r1"] = 0 if raw is None else int(raw)
        case["r1_seconds"] = round(time.time() - start, 3)
        case["r1_timeouts"] = acc.last_timeouts
        located = split_answer(case["pred"])
        case["r1_located"] = None if located is None else [
            located[0], list(located[1]) if located[0] == "boxes" else located[1][:300]]
        case["r1_gold_sources"] = gold_sources(case["gold"])[:2]
        case["r1_gold_parts"] = gold_parts(case["gold"])
        case["mv_test"], case["mv_test_status"] = mv_reference(case)
        case["mv_plain"] = mv_plain(case["gold"], case["pred"])
        case["agree"] = case["r1"] == case["expected"]
        print(f"[{n + 1}/{len(cases)}] {case['test']}#{case['index']} expected={case['expected']} "
              f"r1={raw} mv_test={case['mv_test']} ({case['mv_test_status']}) {case['r1_seconds']}s",
              flush=True)
    for case in cases:
        case.pop("_func"), case.pop("_args")
    if args.cases:
        args.cases.write_text(json.dumps(cases, indent=1, ensure_ascii=False, default=str))

    per_test = {}
    for f in functions:
        rows = [c for c in cases if c["module"] == f["module"] and c["test"] == f["test"]]
        per_test[f"{f['module']}::{f['test']}"] = {
            "cases": len(rows), "agree": sum(c["agree"] for c in rows),
            "skipped": f["skipped"], "why_skipped": f["why_skipped"],
            "mv09_passes": sum(c["mv_test_status"] == "pass" for c in rows),
            "test_call": f.get("test_call", ""),
        }
    disagreements = [
        {"test": f"{c['module']}::{c['test']}", "index": c["index"], "gold": c["gold"],
         "pred": c["pred"][:300], "expected": c["expected"], "r1": c["r1_raw"],
         "case_args": c["case_args"], "test_call": c["test_call"],
         "mv09_under_test_options": c["mv_test"], "mv09_plain_defaults": c["mv_plain"],
         "r1_located": c["r1_located"]}
        for c in cases if not c["agree"]]
    result = {
        "total_cases": len(cases),
        "agreements": sum(c["agree"] for c in cases),
        "disagreements": len(disagreements),
        "r1_timeouts": sum(c["r1_timeouts"] for c in cases),
        "mv09_passes_own_tests": sum(c["mv_test_status"] == "pass" for c in cases),
        "seconds": round(time.time() - t0, 1),
        "per_test_function": per_test,
        "disagreement_list": disagreements,
    }
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("disagreement_list",)}, indent=1))


if __name__ == "__main__":
    main()
