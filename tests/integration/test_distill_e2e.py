"""`r1 distill` end to end: a scripted OpenAI-compatible server as the teacher, and the offline tiny teacher.

The server answers each (problem, sample index) with a hand-written trace whose verdict is known, and
the test asserts the exact SFT records kept, the per-filter counts, the request parameters (R1
protocol), the cost from the server's usage, and that the API key never reaches an output file.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from r1cli.commands.distill import distill
from r1cli.data.chat import record_messages
from tests.helpers.fake_openai_server import FakeOpenAIServer

SECRET = "sk-test-distill-0123456789"
MAX_NEW_TOKENS = 60  # the fake server counts whitespace-separated words as tokens

PROBLEMS = [
    {"id": "add", "problem": "What is 7 + 5?", "answer": "12"},
    {"id": "frac", "problem": "Simplify 6/8 to lowest terms.", "answer": "\\frac{3}{4}"},
    {"id": "zh", "problem": "计算 9 减 4 等于多少?", "answer": "5"},
    {"id": "pow", "problem": "What is 2 to the power 10?", "answer": "1024"},
]
LONG = "<think>\n" + " ".join(["Let me recount the units carefully."] * 20)  # 120 words: cut at 60

# (problem id, sample index) -> (trace, first filter that rejects it or None when it passes)
SCRIPT: dict[tuple[str, int], tuple[str, str | None]] = {
    ("add", 0): ("<think>\n7 + 5 = 13.\n</think>\n\nThe answer is \\boxed{13}.", "reward"),
    ("add", 1): ("<think>\n7 + 3 = 10, plus 2 is 12.\n</think>\n\nThe answer is \\boxed{12}.", None),
    ("add", 2): ("Adding 7 and 5 gives 12.\n</think>\n\n\\boxed{12}", None),  # R1 prefill: no opening tag
    ("add", 3): (LONG, "finish_reason"),
    ("frac", 0): ("<think>\nDivide both by 2.\n</think>\n\n\\boxed{\\frac{3}{4}}", None),
    ("frac", 1): ("<think>\n6/8 = 3/4 since gcd is 2.\n</think>\n\n\\boxed{\\dfrac{3}{4}}", None),
    ("frac", 2): ("<think>\nHalve both.\n</think>\n\n\\boxed{3/4}", None),  # passes, but keep=2: surplus
    ("frac", 3): ("<think>\nDivide by 2.\n</think>\n\n\\boxed{\\frac{3}{8}}", "reward"),
    ("zh", 0): ("<think>\n九减四等于五。\n</think>\n\n答案是 \\boxed{5}", None),
    # Latin: Nine(4) minus(5) four(4) is(2) five(4) = 19 letters; CJK 所以答案是五 = 6 -> 19/25 = 0.76 > 0.1
    ("zh", 1): ("<think>\nNine minus four is five, 所以答案是五。\n</think>\n\n\\boxed{5}", "language"),
    ("zh", 2): ("<think>\n九减四等于五。\n</think>\n\n答案是 \\boxed{5}", "duplicate"),
    ("zh", 3): ("<think>\n九减四等于五。答案是 \\boxed{5}", "think"),  # never closes
    **{("pow", j): (f"<think>\nTry {j}: 2^10 = 1000.\n</think>\n\n\\boxed{{1000}}", "reward") for j in range(4)},
}
KEPT = ["add#1", "add#2", "frac#0", "frac#1", "zh#0"]


def responder(prompt: str, index: int) -> str:
    pid = next(p["id"] for p in PROBLEMS if prompt.startswith(p["problem"] + "\n"))
    return SCRIPT[(pid, index)][0]


def invoke(args: list[str], env: dict | None = None):
    """Run `r1 distill ARGS`: through r1cli.app when it registers this command, else a one-command app."""
    from r1cli import app as root

    registered = any(c.name == "distill" and c.callback is distill for c in root.app.registered_commands)
    if registered:
        cli, argv = root.app, ["distill", *args]
    else:
        cli = typer.Typer()
        cli.command("distill")(distill)
        cli.callback()(lambda: None)
        argv = ["distill", *args]
    result = CliRunner().invoke(cli, argv, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def run_against_server(tmp_path: Path, reasoning: bool) -> tuple[Path, FakeOpenAIServer]:
    data = tmp_path / "problems.jsonl"
    data.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in PROBLEMS), encoding="utf-8")
    out = tmp_path / ("out-reasoning" if reasoning else "out")
    with FakeOpenAIServer(responder, api_key=SECRET, reasoning=reasoning) as server:
        invoke(["--teacher", "deepseek-r1", "--backend", "openai", "--base-url", server.url,
                "--api-key-env", "R1_TEST_DISTILL_KEY", "--data", str(data), "--n", "4", "--keep", "2",
                "--max-new-tokens", str(MAX_NEW_TOKENS), "--price-per-mtok", "0.5,2", "--output-dir", str(out)],
               env={"R1_TEST_DISTILL_KEY": SECRET})
    return out, server


def test_distill_keeps_exactly_the_verified_traces(tmp_path):
    out, server = run_against_server(tmp_path, reasoning=False)
    sft = lines(out / "sft.jsonl")
    assert [r["id"] for r in sft] == KEPT
    by_id = {r["id"]: r for r in sft}
    assert by_id["add#1"]["messages"] == [
        {"role": "user", "content": "What is 7 + 5?\nPlease reason step by step, and put your final answer "
                                    "within \\boxed{}."},
        {"role": "assistant", "content": "<think>\n7 + 3 = 10, plus 2 is 12.\n</think>\n\nThe answer is \\boxed{12}."},
    ]
    # the prefill case got its opening tag back
    assert by_id["add#2"]["messages"][1]["content"] == "<think>\nAdding 7 and 5 gives 12.\n</think>\n\n\\boxed{12}"
    assert all(r["teacher"] == "deepseek-r1" and r["reward"] == 1.0 for r in sft)
    for r in sft:  # what r1 sft reads
        assert [m["role"] for m in record_messages(r)] == ["user", "assistant"]

    stats = json.loads((out / "stats.json").read_text())
    expected_rejections = {f: sum(v[1] == f for v in SCRIPT.values()) for f in stats["rejected_by"]}
    assert stats["rejected_by"] == expected_rejections
    assert expected_rejections == {"finish_reason": 1, "think": 1, "max_tokens": 0, "language": 1,
                                   "paragraph": 0, "code": 0, "unverifiable": 0, "reward": 6, "duplicate": 1}
    # 16 samples, 6 pass (add 1,2; frac 0,1,2; zh 0), 5 kept (keep=2 leaves frac#2 over)
    assert (stats["samples"], stats["passed"], stats["kept"], stats["surplus"]) == (16, 6, 5, 1)
    assert stats["acceptance_rate"] == 6 / 16 and stats["problems_with_kept"] == 3

    # R1 protocol on the wire: T 0.6, top-p 0.95, one request per problem asking n=4
    bodies = [r.body for r in server.requests]
    assert len(bodies) == 4
    assert {(b["temperature"], b["top_p"], b["n"], b["max_tokens"]) for b in bodies} == {(0.6, 0.95, 4, 60)}
    # cost from the server's usage: prompt words once per request, completion words of every choice
    prompt_words = sum(len(b["messages"][-1]["content"].split()) for b in bodies)
    completion_words = sum(min(len(t.split()), MAX_NEW_TOKENS) for t, _ in SCRIPT.values())
    assert stats["tokens"]["prompt"] == prompt_words and stats["tokens"]["completion"] == completion_words
    assert stats["cost"]["total_usd"] == (prompt_words * 0.5 + completion_words * 2) / 1e6

    # the key travelled only in the Authorization header, never into a file
    assert all(r.headers.get("Authorization") == f"Bearer {SECRET}" for r in server.requests)
    for path in out.iterdir():
        assert SECRET not in path.read_text(encoding="utf-8"), path
    assert "api_key_env: R1_TEST_DISTILL_KEY" in (out / "config.yaml").read_text()


def test_separate_reasoning_gives_the_same_records(tmp_path):
    # The server returns message.reasoning + content (vLLM/SGLang reasoning parsers, the R1 API)
    plain, _ = run_against_server(tmp_path, reasoning=False)
    split, _ = run_against_server(tmp_path, reasoning=True)
    # same records; only the per-choice token split (estimated from text length) may differ
    assert [(r["id"], r["messages"]) for r in lines(split / "sft.jsonl")] == [
        (r["id"], r["messages"]) for r in lines(plain / "sft.jsonl")]


def test_offline_tiny_teacher(tmp_path):
    from r1cli.tasks import get_task, write_task_data

    paths = write_task_data("arith", 8, 3, tmp_path / "data")
    out = tmp_path / "out"
    invoke(["--teacher", "arith", "--backend", "tiny", "--data", str(paths["problems"]), "--n", "4", "--keep", "1",
            "--set", "generation.tiny_error_rate=0.3", "--output-dir", str(out)])
    task = get_task("arith")
    problems = {p["id"]: p for p in lines(paths["problems"])}
    raw = lines(out / "samples.jsonl")
    sft = lines(out / "sft.jsonl")
    # exactly one kept trace for every problem with a correct sample, and each one checks out
    solvable = [r["id"] for r in raw if any(task.check(s["text"], r) for s in r["samples"])]
    assert [r["problem_id"] for r in sft] == solvable
    assert all(task.check(r["messages"][1]["content"], problems[r["problem_id"]]) for r in sft)
    stats = json.loads((out / "stats.json").read_text())
    wrong = sum(not task.check(s["text"], r) for r in raw for s in r["samples"])
    assert wrong > 0 and stats["rejected_by"]["reward"] == wrong
