"""The code sandbox's filesystem wall (bubblewrap): each wall is one test, with an unwalled control run
showing the same program does reach the host without it (so a pass is the wall's doing, not permissions)."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from r1cli.errors import R1Error
from r1cli.rewards import get_reward, sandbox, sandbox_fs
from r1cli.rewards.sandbox import SandboxLimits, _nproc_counts_outer_process, run_python
from r1cli.rewards.sandbox_fs import mirror
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.needs_bwrap  # runs the sandbox for real (tests/conftest.py)

FAST = SandboxLimits(timeout_s=10.0)


@pytest.fixture
def public_dir():
    """A host directory every uid can read (so only the wall, not file modes, keeps the sandbox out)."""
    path = Path(tempfile.mkdtemp(prefix="r1-wall-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


WRITE = """
import os
target = os.path.join({d!r}, {name!r})
try:
    os.makedirs({d!r}, exist_ok=True)
    with open(target, "w") as fh:
        fh.write("escaped")
    print("written")
except OSError as exc:
    print("blocked", type(exc).__name__)
"""


@pytest.mark.parametrize("directory", ["/tmp", "/dev/shm", "/var/tmp"])
def test_writes_to_host_temp_dirs_fail_and_leave_nothing(directory):
    if not os.path.isdir(directory):
        pytest.skip(f"this host has no {directory}")
    name = f"r1-wall-{secrets.token_hex(8)}"
    host = Path(directory) / name
    try:
        res = run_python(WRITE.format(d=directory, name=name), limits=FAST)
        assert res.fs_isolated and res.stdout.split()[0] == "blocked", res.stdout + res.stderr
        assert not host.exists()
        control = run_python(WRITE.format(d=directory, name=name), limits=FAST, fs_isolation=False)
        assert control.stdout.strip() == "written" and host.exists()  # without the wall it lands on the host
    finally:
        host.unlink(missing_ok=True)


READ = """
import sys
try:
    with open({path!r}, "rb") as fh:
        print("read", len(fh.read()))
except OSError as exc:
    print("blocked", type(exc).__name__)
"""


def _host_file(kind: str, public_dir: Path) -> str:
    if kind == "test-file":
        secret = public_dir / "secret.txt"
        secret.write_text("host secret\n")
        secret.chmod(0o644)
        return str(secret)
    if kind == "etc-hostname":
        return "/etc/hostname" if os.path.exists("/etc/hostname") else "/etc/passwd"
    return str(REPO_ROOT / "pyproject.toml")  # the repo (world-readable here)


@pytest.mark.parametrize("kind", ["test-file", "etc-hostname", "repo"])
def test_host_files_are_unreadable(kind, public_dir):
    path = _host_file(kind, public_dir)
    res = run_python(READ.format(path=path), limits=FAST)
    assert res.stdout.strip() == "blocked FileNotFoundError", res.stdout + res.stderr
    control = run_python(READ.format(path=path), limits=FAST, fs_isolation=False)
    # without the wall the same program reads it (unless file modes keep the sandbox uid out anyway)
    assert control.stdout.startswith("read") or not _world_readable(path), control.stdout + control.stderr


def _world_readable(path: str) -> bool:
    parents = [p for p in Path(path).resolve().parents]
    return os.stat(path).st_mode & 0o004 and all(os.stat(p).st_mode & 0o001 for p in parents)


PROC = """
import os
pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
seen = []
for pid in pids:
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            seen.append(fh.read().replace(b"\\0", b" ").decode())
    except OSError:
        pass
print(len(pids), {marker!r} in " ".join(seen))
"""


def test_proc_shows_only_the_sandbox_processes():
    marker = f"r1-host-marker-{secrets.token_hex(8)}"
    host = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker])
    try:
        res = run_python(PROC.format(marker=marker), limits=FAST)
        count, seen = res.stdout.split()
        # bwrap's reaper (PID 1) and the harness running the program: nothing of the host
        assert seen == "False" and int(count) <= 2, res.stdout + res.stderr
        control = run_python(PROC.format(marker=marker), limits=FAST, fs_isolation=False)
        assert control.stdout.split()[1] == "True"  # the host's /proc shows it without the wall
    finally:
        host.kill()
        host.wait()


def test_scratch_is_writable_and_the_stdlib_imports():
    code = textwrap.dedent(
        """
        import bz2, ctypes, datetime, decimal, hashlib, json, lzma, os, socket, sqlite3, ssl, sys
        import tempfile, threading, unicodedata, zlib
        with open("note.txt", "w") as fh:
            fh.write("ok")
        with tempfile.TemporaryDirectory() as tmp:  # TMPDIR is the scratch dir
            assert tmp.startswith(os.getcwd())
            with open(os.path.join(tmp, "x"), "w") as fh:
                fh.write("x")
        db = sqlite3.connect(":memory:")
        assert db.execute("select 6 * 7").fetchone() == (42,)
        thread = threading.Thread(target=lambda: None)
        thread.start()
        thread.join()
        assert decimal.Decimal("0.1") + decimal.Decimal("0.2") == decimal.Decimal("0.3")
        assert ctypes.sizeof(ctypes.c_int) == 4 and zlib.decompress(zlib.compress(b"z")) == b"z"
        print(open("note.txt").read(), sys.stdin.read().strip(), unicodedata.name("é"), hashlib.sha256(b"").hexdigest()[:8])
        """
    )
    res = run_python(code, stdin="ünïcode\n", limits=FAST)
    assert res.fs_isolated and res.returncode == 0, res.stderr
    assert res.stdout == "ok ünïcode LATIN SMALL LETTER E WITH ACUTE e3b0c442\n"


def test_the_process_limit_still_holds_inside_the_wall():
    code = textwrap.dedent(
        """
        import os
        r, w = os.pipe()
        n = 0
        try:
            while True:
                if os.fork() == 0:
                    os.close(w)
                    os.read(r, 1)  # until the program ends
                    os._exit(0)
                n += 1
        except OSError:
            print(n)
        """
    )
    res = run_python(code, limits=SandboxLimits(timeout_s=10.0, max_processes=4))
    assert res.fs_isolated and res.returncode == 0, res.stderr
    if os.geteuid() != 0 and _nproc_counts_outer_process():
        assert int(res.stdout) >= 3  # Linux < 5.14, ordinary user: bounded by the user's tasks + 4
    else:
        assert int(res.stdout) == 3  # the program itself and 3 children = max_processes


def test_a_venv_interpreter_runs_on_its_base_runtime(public_dir):
    """A venv's python is traced to its base interpreter and stdlib; the venv (like the repo) stays out."""
    base = next(p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if os.path.exists(p))
    venv = public_dir / "venv"
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True)
    code = "import json, os, sys\nprint(json.dumps([sys.prefix, os.path.exists(%r), os.path.exists(%r)]))"
    res = run_python(code % (str(venv), str(REPO_ROOT)), python=str(venv / "bin" / "python"), limits=FAST)
    prefix = subprocess.run([base, "-I", "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f'["{prefix.stdout.strip()}", false, false]'


def test_mirror_recreates_symlinks_and_binds_real_paths(tmp_path):
    (tmp_path / "usr" / "lib" / "x").mkdir(parents=True)
    (tmp_path / "usr" / "lib" / "x" / "libc.so.6").write_text("")
    (tmp_path / "lib").symlink_to("usr/lib")  # merged /usr, like /lib -> usr/lib
    (tmp_path / "usr" / "lib" / "x" / "libz.so.1").symlink_to("libc.so.6")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").write_text("")
    binds, links = mirror([str(tmp_path / "bin" / "python")], [], [str(tmp_path / "lib" / "x" / "libz.so.1")])
    assert binds == [str(tmp_path / "bin" / "python"), str(tmp_path / "usr" / "lib" / "x")]
    assert links == [(str(tmp_path / "lib"), "usr/lib")]  # the one inside the bound dir comes with it


# --- without user namespaces: a one-line error naming the opt-out; the opt-out warns -------------------

NO_USERNS = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
uid, gid = os.getuid(), os.getgid()
if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER: a user namespace of our own ...
    sys.exit("unshare: " + os.strerror(ctypes.get_errno()))
for name, text in (("setgroups", "deny"), ("uid_map", f"1000 {uid} 1"), ("gid_map", f"1000 {gid} 1")):
    with open(f"/proc/self/{name}", "w") as fh:
        fh.write(text)
with open("/proc/sys/user/max_user_namespaces", "w") as fh:  # ... in which the kernel allows no more
    fh.write("0")
os.setresgid(1000, 1000, 1000)
os.setresuid(1000, 1000, 1000)
from r1cli.errors import R1Error
from r1cli.rewards import get_reward
try:
    get_reward("code")
    print("NO ERROR")
except R1Error as exc:
    print("ERROR " + str(exc))
fn = get_reward("code", fs_isolation="false")  # as --set rewards.params.code.fs_isolation=false gives it
print("OPT-OUT", fn(["```python\\nprint(input())\\n```"], tests=[[{"input": "7", "output": "7"}]]))
"""


def _run_without_user_namespaces() -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-c", NO_USERNS], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    if done.stdout.startswith("unshare:") or "unshare:" in done.stderr:
        pytest.fail(f"cannot make a user namespace to take them away in: {done.stderr.strip()}")
    return done


def test_kernel_without_user_namespaces_gives_one_line_error_naming_the_opt_out():
    """A real refusal: in a user namespace whose max_user_namespaces is 0, bwrap cannot make its own."""
    done = _run_without_user_namespaces()
    error = next((line for line in done.stdout.splitlines() if line.startswith("ERROR ")), None)
    assert error is not None, done.stdout + done.stderr
    assert "kernel does not allow the user namespaces" in error and "bwrap: Creating new namespace failed" in error
    assert "fs_isolation=false" in error and "R1_SANDBOX_FS_ISOLATION=0" in error
    # ... and the opt-out named there works, with the warning (printed in this fresh process too)
    assert "OPT-OUT [1.0]" in done.stdout
    assert "the filesystem wall is OFF" in done.stderr


def test_namespace_probe_failure_is_one_line(monkeypatch):
    """The probe failing (simulated: a bwrap that answers as a kernel without user namespaces does)."""
    fake = Path(tempfile.mkdtemp(prefix="r1-fake-bwrap-"))
    try:
        fake.chmod(0o755)
        script = fake / "bwrap"
        script.write_text(
            "#!/bin/sh\necho \"bwrap: No permissions to creating new namespace, likely because the kernel does "
            "not allow non-privileged user namespaces. On e.g. debian this can be enabled with "
            "'sysctl kernel.unprivileged_userns_clone=1'.\" >&2\nexit 1\n"
        )
        script.chmod(0o755)
        monkeypatch.setattr(sandbox_fs, "_find_bwrap", lambda: str(script))
        monkeypatch.setattr(sandbox, "_choices", {})
        with pytest.raises(R1Error) as err:
            get_reward("code")
        message = str(err.value)
        assert "\n" not in message and message.startswith("code sandbox: the kernel does not allow the user")
        assert "No permissions to creating new namespace" in message and "fs_isolation=false" in message
    finally:
        shutil.rmtree(fake, ignore_errors=True)


def test_missing_bwrap_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(sandbox_fs, "_find_bwrap", lambda: None)
    monkeypatch.setattr(sandbox, "_choices", {})
    with pytest.raises(R1Error) as err:
        get_reward("code")
    message = str(err.value)
    assert "\n" not in message and "apt-get install bubblewrap" in message
    assert "fs_isolation=false" in message and "R1_SANDBOX_FS_ISOLATION=0" in message


@pytest.mark.parametrize("how", ["param", "env"])
def test_the_opt_out_warns_and_drops_the_wall(how, monkeypatch, caplog, public_dir):
    monkeypatch.setattr(sandbox_fs, "_warned", False)
    params = {}
    if how == "env":
        monkeypatch.setenv("R1_SANDBOX_FS_ISOLATION", "0")
    else:
        params["fs_isolation"] = False
    with caplog.at_level(logging.WARNING, logger="r1cli.rewards.sandbox_fs"):
        fn = get_reward("code", **params)
    assert any("filesystem wall is OFF" in r.getMessage() for r in caplog.records)
    secret = _host_file("test-file", public_dir)
    code = f"```python\nprint(open({secret!r}).read().strip())\n```"
    assert fn([code], tests=[[{"input": "", "output": "host secret"}]]) == [1.0]  # the host file is readable


def test_a_bad_switch_value_is_an_error(monkeypatch):
    monkeypatch.setenv("R1_SANDBOX_FS_ISOLATION", "maybe")
    with pytest.raises(R1Error, match="R1_SANDBOX_FS_ISOLATION='maybe' is not a switch"):
        run_python("pass")
