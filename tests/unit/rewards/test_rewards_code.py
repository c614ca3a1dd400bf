"""code: last python block vs stdin/stdout tests or asserts, in the sandbox; escapes are harmless."""

from __future__ import annotations

import os
import socket

import pytest

from r1cli.errors import R1Error
from r1cli.rewards import get_reward
from r1cli.rewards.code import output_matches, parse_io_tests, split_test_code
from r1cli.rewards.sandbox import SandboxLimits, _tasks_of_uid, run_python

pytestmark = pytest.mark.needs_bwrap  # runs the sandbox for real (tests/conftest.py)


def block(code: str) -> str:
    return f"<think>plan</think>\nHere it is:\n```python\n{code}\n```\n"


ADD_TESTS = [{"input": "1 2\n", "output": "3\n"}, {"input": "5 7\n", "output": "12"}]
SUM = "a, b = map(int, input().split())\nprint(a + b)"


@pytest.mark.parametrize(
    ("code", "binary", "expected"),
    [
        (SUM, False, 1.0),  # 1+2=3, 5+7=12
        ("a, b = map(int, input().split())\nprint(a * b)", False, 0.0),  # 2 != 3, 35 != 12
        ("a, b = map(int, input().split())\nprint(a + b if a < 3 else 0)", False, 0.5),  # first only: 1/2
        ("a, b = map(int, input().split())\nprint(a + b if a < 3 else 0)", True, 0.0),  # binary: not all
        (SUM + "\nraise SystemExit(1)", False, 0.0),  # right output, non-zero exit
    ],
)
def test_stdio_tests(code, binary, expected):
    assert get_reward("code", binary=binary)([block(code)], tests=[ADD_TESTS]) == [expected]


def test_test_formats():
    as_json = '{"inputs": ["1 2\\n"], "outputs": ["3\\n"]}'
    assert parse_io_tests(as_json) == [("1 2\n", "3\n")]
    assert parse_io_tests([["1 2\n", "3\n"]]) == [("1 2\n", "3\n")]
    assert parse_io_tests(None) == []
    with pytest.raises(R1Error):
        parse_io_tests("not json")
    assert output_matches("3  \n\n\n", "3") and not output_matches("3\n4", "3")


ADD = "def add(a, b):\n    return a + b"
ASSERTS = "assert add(1, 2) == 3\nassert add(2, 2) == 5\nx = add(0, 0)\nassert x == 0"


@pytest.mark.parametrize(
    ("code", "test_code", "expected"),
    [
        (ADD, ASSERTS, 2 / 3),  # 3 asserts, the middle one is wrong: 2/3
        (ADD, ["assert add(1, 1) == 2", "assert add(1, 1) == 3"], 0.5),  # a list: one test each
        (ADD, "add(1, 2)", 1.0),  # no assert: the whole code is one test that must not raise
        ("import os\nos._exit(0)\n" + ADD, ASSERTS, 0.0),  # exiting before the tests passes nothing
        ("import sys\nsys.exit(0)\n" + ADD, ASSERTS, 0.0),
        (ADD + "\nprint('0 0 1')\nprint('x 1 1')", ASSERTS, 2 / 3),  # forged result lines are ignored
    ],
)
def test_assert_tests(code, test_code, expected):
    assert get_reward("code")([block(code)], test_code=[test_code]) == [pytest.approx(expected)]


def test_humaneval_style_check():
    check = "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(0, 0) == 0"
    got = get_reward("code")([block(ADD)], test_code=[check], entry_point=["add"])
    assert got == [1.0]
    assert split_test_code(check, "add") == ([(check, -1), ("check(add)", 0)], 1)


def test_no_code_no_tests_and_bad_rows():
    fn = get_reward("code")
    assert fn(["no code block here"], tests=[ADD_TESTS]) == [0.0]
    assert fn([block(SUM)], tests=[None]) == [None]  # nothing to judge with
    assert fn([block(SUM)], test_code=["assert (("]) == [None]  # a test that does not parse
    with pytest.raises(R1Error, match="'tests' column"):
        fn([block(SUM)])


# --- the sandbox: escapes must be harmless -------------------------------------------------------

FAST = SandboxLimits(timeout_s=1.0)


def test_infinite_loop_is_stopped():
    res = run_python("while True:\n    pass", limits=FAST)
    assert res.timed_out and res.returncode is None
    assert get_reward("code", timeout_s=1.0)([block("while True:\n    pass")], tests=[ADD_TESTS[:1]]) == [0.0]


def _survivors(res) -> list[int]:
    """Live processes a run left behind: any whose command line names its (unique) workdir, plus,
    as root, any of its throwaway uid."""
    alive = set(_tasks_of_uid(res.uid)[1]) if res.uid is not None else set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if res.workdir.encode() in fh.read():
                    alive.add(int(pid))
        except OSError:
            pass
    return sorted(alive)


@pytest.mark.parametrize(
    "bomb",
    [
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
        # children that leave the session: killed with the run's PID namespace (and uid, as root)
        "import os\nwhile True:\n    try:\n        if os.fork() == 0:\n            os.setsid()\n    except OSError:\n        pass",
    ],
    ids=["fork", "fork+setsid"],
)
def test_fork_bomb_is_contained_and_cleaned_up(bomb):
    res = run_python(bomb, limits=FAST)
    assert res.timed_out or res.returncode != 0  # stopped by the wall clock (or a CPU limit)
    assert res.workdir and _survivors(res) == []


def test_one_gigabyte_of_output_is_capped():
    code = "import sys\nfor _ in range(16384):\n    sys.stdout.write('x' * 65536)"  # 16384 * 64 KiB = 1 GiB
    res = run_python(code, limits=SandboxLimits(timeout_s=5.0, max_output_bytes=1 << 16))
    assert len(res.stdout) <= 1 << 16
    assert res.returncode != 0  # the write past the cap fails (EFBIG) and ends the program
    assert get_reward("code", max_output_bytes=1 << 16)([block(code)], tests=[ADD_TESTS[:1]]) == [0.0]


def test_environment_secrets_are_not_inherited(monkeypatch):
    monkeypatch.setenv("R1_TEST_SECRET_TOKEN", "hunter2")
    res = run_python("import os\nprint(sorted(os.environ.items()))", limits=FAST)
    assert res.returncode == 0 and "R1_TEST_SECRET_TOKEN" not in res.stdout and "hunter2" not in res.stdout
    code = "import os\nprint(os.environ.get('R1_TEST_SECRET_TOKEN'))"
    assert get_reward("code")([block(code)], tests=[[{"input": "", "output": "None"}]]) == [1.0]


def test_network_is_blocked():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.setblocking(False)
    port = server.getsockname()[1]
    code = (
        "import socket\ntry:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=1).sendall(b'leak')\n"
        "    print('connected')\nexcept OSError:\n    print('blocked')"
    )
    try:
        res = run_python(code, limits=FAST)
        assert res.stdout.strip() == "blocked"
        with pytest.raises(BlockingIOError):
            server.accept()  # nothing ever reached us
    finally:
        server.close()


@pytest.mark.parametrize("fs_isolation", [True, False], ids=["walled", "unwalled"])
def test_control_files_cannot_be_swapped_for_symlinks(fs_isolation, tmp_path):
    """The parent reads the run's stdout/stderr/results through its own descriptors, outside the
    program's scratch dir: links planted there under those names make it read nothing of the host."""
    secret = tmp_path / "root-only.txt"
    secret.write_text("root secret")
    secret.chmod(0o600)
    names = ["stdout.txt", "stderr.txt", "results.txt", "../stdout.txt", "../stderr.txt"]
    code = (
        "import os\n"
        f"for name in {names!r}:\n"
        "    try:\n"
        "        os.unlink(name)\n"
        "    except OSError:\n"
        "        pass\n"
        "    try:\n"
        f"        os.symlink({str(secret)!r}, name)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    res = run_python(code, limits=FAST, fs_isolation=fs_isolation)
    assert res.returncode == 0, res.stderr
    assert "root secret" not in res.stdout + res.stderr


def test_memory_and_working_dir():
    res = run_python("x = bytearray(8 << 30)", limits=FAST)  # 8 GiB > the 1 GiB address-space limit
    assert res.returncode == 1 and "MemoryError" in res.stderr
    res = run_python("import os\nprint(os.getcwd())", limits=FAST)
    assert "r1-sandbox-" in res.stdout
