"""End to end: `r1 eval gpqa-diamond --data FILE` against a scripted server that reads the shuffled
options in the prompt: checks shuffle -> prompt -> letter extraction -> metrics."""

from __future__ import annotations

import json
import re

from r1cli.eval.gpqa import shuffle_options
from tests.helpers.fake_openai_server import FakeOpenAIServer
from tests.integration._eval_cli import run_eval_cli

# Our own toy questions in the hub's column layout (not GPQA data).
ROWS = [{"Record ID": f"q{i}", "Question": f"Which number is {i}?", "Correct Answer": f"number {i}",
         "Incorrect Answer 1": f"number {i + 100}", "Incorrect Answer 2": f"number {i + 200}",
         "Incorrect Answer 3": f"number {i + 300}"} for i in range(4)]


def test_eval_gpqa_letters(tmp_path):
    data = tmp_path / "gpqa.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    seen_letters = []

    def responder(prompt: str, index: int) -> str:
        i = int(re.search(r"Which number is (\d+)\?", prompt).group(1))
        options = dict(re.findall(r"^([A-D])\) (.*)$", prompt, flags=re.M))
        right = next(letter for letter, text in options.items() if text == f"number {i}")
        wrong = next(letter for letter in "ABCD" if letter != right)
        seen_letters.append(right)
        # question 0: all right; 1: right, wrong; 2: wrong, wrong; 3: by option text, then "Answer: X"
        script = {0: [f"\\boxed{{{right}}}"] * 2, 1: [f"\\boxed{{({right})}}", f"\\boxed{{{wrong}}}"],
                  2: [f"\\boxed{{{wrong}}}"] * 2, 3: [f"\\boxed{{number {i}}}", f"Answer: {right}"]}
        return script[i][index]

    with FakeOpenAIServer(responder) as server:
        res = run_eval_cli("gpqa-diamond", "--data", str(data), "--model", "fake", "--backend", "openai",
                           "--base-url", server.url, "--n", "2", "-o", str(tmp_path / "out"), "--json")
    assert res.exit_code == 0, res.output
    m = json.loads(res.stdout)[0]["metrics"]
    # c per question: 2, 1, 0, 2 -> pass@1 = (1 + 0.5 + 0 + 1) / 4 = 0.625
    assert m["pass@1"] == 0.625
    # maj@2: q0 right; q1 tie right/wrong -> right (earlier); q2 wrong; q3 right -> 3/4
    assert m["maj@k"] == {"1": 0.75, "2": 0.75}
    records = [json.loads(x) for x in (tmp_path / "out" / "gpqa-diamond" / "samples.jsonl").read_text().splitlines()]
    # the gold letter is the one the per-id seeded shuffle gives, and the one the server saw in the prompt
    expected = [shuffle_options(f"number {i}", [f"number {i + d}" for d in (100, 200, 300)], f"q{i}")[1]
                for i in range(4)]
    assert [r["answer"] for r in records] == expected
    assert set(seen_letters) == set(expected)
    assert all(r["choices"]["ABCD".index(r["answer"])] == f"number {i}" for i, r in enumerate(records))
    assert records[3]["samples"][0]["extracted"] == records[3]["answer"]  # option text mapped to its letter
