"""docs/bad-inputs.md is true: every row's command, run as written, exits as stated with its message."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT
from tests.integration._cli import r1_env

TABLE = REPO_ROOT / "docs" / "bad-inputs.md"
_ROW = re.compile(r"^\| (?P<case>[^|]+?) \| `(?P<cmd>[^`]+)` \| (?P<exit>\d+) \| `(?P<msg>[^`]+)` \|$")


def rows() -> list[dict]:
    found = [m.groupdict() for line in TABLE.read_text(encoding="utf-8").splitlines() if (m := _ROW.match(line))]
    assert len(found) >= 20, "docs/bad-inputs.md: table rows not found"
    return found


def _r1(argv: list[str], cwd, timeout: float = 300) -> subprocess.CompletedProcess:
    env = r1_env()
    env.pop("R1_BENCHMARK_DIR", None)  # the table's benchmark rows describe a machine without one
    return subprocess.run([sys.executable, "-m", "r1cli", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """The scratch directory the table describes: tiny model, data, finished runs, a file, bad files."""
    root = tmp_path_factory.mktemp("bad-inputs")
    for argv in (["init-model", "tiny", "-o", "tiny"],
                 ["data", "make", "arith", "--n", "24", "--held-out", "8", "-o", "data"],
                 ["sample", "--model", "tiny", "--data", "data/problems.jsonl", "--n", "1", "--max-new-tokens", "4",
                  "--limit", "2", "-o", "runs/done"],
                 ["sft", "--preset", "tiny", "--model", "tiny", "--data", "data/sft.jsonl", "--max-steps", "2",
                  "-o", "runs/sft-done"]):
        done = _r1(argv, root)
        assert done.returncode == 0, done.stderr
    (root / "afile").write_text("not a directory\n")
    bad = root / "bad"
    bad.mkdir()
    for name, content in BAD_FILES.items():
        (bad / name).write_bytes(content)
    (root / "runs" / "busy").mkdir(parents=True)
    _bad_critic(root / "tiny", bad / "critic")
    return root


def _bad_critic(model, out):
    """A copy of the tiny model with a value head one wider than its hidden size (a critic of another trunk)."""
    import json
    import shutil

    import torch
    from safetensors.torch import save_file

    shutil.copytree(model, out)
    hidden = json.loads((out / "config.json").read_text())["hidden_size"]
    save_file({"weight": torch.zeros(1, hidden + 1), "bias": torch.zeros(1)}, str(out / "value_head.safetensors"))


GOOD = b'{"id": "p0", "problem": "What is 1 + 1?", "answer": "2"}\n'
BAD_FILES = {  # the bad files the table's rows name (bad/<name>)
    "latin1.jsonl": GOOD + b'{"id": "p1", "problem": "Caf\xe9: 2 + 2?", "answer": "4"}\n',
    "int-problem.jsonl": b'{"id": "p0", "problem": 123, "answer": "2"}\n',
    "list-answer.jsonl": b'{"id": "p0", "problem": "What is 1 + 1?", "answer": ["2"]}\n',
    "bool-answer.jsonl": b'{"id": "p0", "problem": "What is 1 + 1?", "answer": true}\n',
    "misspelt.jsonl": b'{"id": "p0", "problme": "What is 1 + 1?", "answer": "2"}\n',
    "sft-int-content.jsonl": b'{"id": "s0", "messages": [{"role": "user", "content": "1+1?"}, '
                             b'{"role": "assistant", "content": 5}]}\n',
    "sft-mesages.jsonl": b'{"id": "s0", "mesages": [{"role": "user", "content": "1+1?"}]}\n',
    "samples-int-text.jsonl": b'{"id": "p0", "problem": "What is 1 + 1?", "answer": "2", '
                              b'"samples": [{"text": 4, "finish_reason": "stop"}]}\n',
    "latin1.yaml": b"train:\n  seed: 1\n# caf\xe9\n",
    "pairs-same.jsonl": b'{"id": "p0", "problem": "1+1?", "chosen": "\\\\boxed{2}", "rejected": "\\\\boxed{3}"}\n'
                        b'{"id": "p1", "problem": "2+2?", "chosen": "\\\\boxed{4}", "rejected": "\\\\boxed{4}"}\n',
    "pairs-chosn.jsonl": b'{"id": "p0", "problem": "1+1?", "chosn": "\\\\boxed{2}", "rejected": "\\\\boxed{3}"}\n',
    "pairs-int.jsonl": b'{"id": "p0", "problem": "1+1?", "chosen": 2, "rejected": "\\\\boxed{3}"}\n',
}

_HOLD = ("import sys, time\nfrom r1cli.data.rundir import claim_output_dir\n"
         "with claim_output_dir('runs/busy', {}, yaml_text='{}\\n', command='sample'):\n"
         "    print('held', flush=True)\n    time.sleep(120)\n")


@pytest.mark.parametrize("row", rows(), ids=lambda r: r["case"])
def test_row_holds(row, scratch):
    argv = shlex.split(row["cmd"])
    assert argv[0] == "r1"
    holder = None
    if "runs/busy" in argv:
        holder = subprocess.Popen([sys.executable, "-c", _HOLD], cwd=scratch, env=r1_env(), stdout=subprocess.PIPE,
                                  text=True)
        assert holder.stdout.readline().strip() == "held"
    before = {p: p.stat().st_mtime_ns for p in scratch.rglob("*") if p.is_file()}
    try:
        done = _r1(argv[1:], scratch)
    finally:
        if holder is not None:
            holder.kill()
            holder.wait()
    out = done.stdout + done.stderr
    assert done.returncode == int(row["exit"]), out
    assert row["msg"] in " ".join(out.split()), out
    assert "Traceback" not in out
    if done.returncode == 2:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("error: ")]
        assert len(errors) == 1 and lines[-1] == errors[0], done.stderr  # progress lines may come before it
    after = {p: p.stat().st_mtime_ns for p in scratch.rglob("*") if p.is_file() and p.name != ".r1.lock"}
    assert after == {p: t for p, t in before.items() if p.name != ".r1.lock"}, "the command changed files"
