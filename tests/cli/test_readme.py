"""README's two set-up commands and .ci/run must not drift apart."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT

CMD1_INSTALL = ("python3 -m venv .venv && .venv/bin/pip install -q -c constraints.txt torch==2.13.0 "
                "&& .venv/bin/pip install -q -c constraints.txt -e '.[dev]'")
CMD2 = 'HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 .venv/bin/python -m pytest -m "slow or not slow"'


def setup_commands() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    block = text.split("## Set up", 1)[1]
    return re.findall(r"```bash\n(.+?)\n```", block, flags=re.S)[:2]


def test_readme_starts_with_the_two_setup_commands():
    cmd1, cmd2 = setup_commands()
    assert cmd1 == CMD1_INSTALL + " && .venv/bin/r1 demo"
    assert cmd2 == CMD2


def test_ci_runs_the_same_commands():
    ci = (REPO_ROOT / ".ci" / "run").read_text().splitlines()
    assert CMD1_INSTALL in ci and CMD2 in ci
