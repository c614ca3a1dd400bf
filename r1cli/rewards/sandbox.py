"""Run untrusted Python in a throwaway, resource-limited, network-less child process.

Each run gets: a fresh temp working dir (also HOME and TMPDIR), a clean environment (nothing of
ours is inherited: no API keys, tokens or paths), stdin from a file, stdout/stderr into files
capped by ``RLIMIT_FSIZE``, limits on CPU time, address space and process count, a wall clock
after which its whole session is SIGKILLed, and no network (see :mod:`r1cli.rewards.sandbox_child`).

Process count: ``RLIMIT_NPROC`` does not bind uid 0, so as root the child drops to a random unused
uid (a fresh one per run; then the limit counts exactly this run's processes, root-only files are
unreadable, and every process of that uid is swept with ``kill -9 -1`` afterwards, even ones that
left the session). That needs an interpreter an unprivileged uid can read; ``sys.executable`` is
probed, then ``/usr/bin/python3`` and ``/usr/local/bin/python3``. As an ordinary user the limit is
set to the user's current task count plus ``max_processes``, and the session is killed afterwards.
Where the kernel allows it the program also runs as PID 1 of its own PID namespace, so whatever it
leaves behind (daemons that left the session included) dies with it, root or not.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

CHILD = Path(__file__).with_name("sandbox_child.py")
_PROBE = "import ast, ctypes, json, resource, traceback"
_python_lock = threading.Lock()
_python_choice: dict[str, tuple[str, bool]] = {}


@dataclass(frozen=True)
class SandboxLimits:
    """Per-run limits: wall clock and CPU seconds, address space, processes (incl. threads), output."""

    timeout_s: float = 5.0
    memory_mb: int = 1024
    max_processes: int = 16
    max_output_bytes: int = 1 << 20


@dataclass
class SandboxResult:
    """What one run did. ``unit_passed`` maps test-unit index -> passed (units mode only)."""

    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    unit_passed: dict[int, bool] = field(default_factory=dict)
    uid: int | None = None
    pgid: int | None = None
    workdir: str = ""  # removed after the run; its path is in every sandbox process's command line


def _clean_env(workdir: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def _probe(python: str) -> bool:
    """Can an unprivileged uid (nobody) start ``python`` and import the harness's modules?"""
    try:
        done = subprocess.run(
            [python, "-I", "-c", _PROBE],
            user=65534,
            group=65534,
            extra_groups=[],
            env=_clean_env("/"),
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def sandbox_python(python: str | None = None) -> tuple[str, bool]:
    """``(interpreter, drop_privileges)`` for sandboxed runs (probed once per process).

    As root the first interpreter an unprivileged uid can run is chosen and privileges are
    dropped; if none can, the run stays root (process count then bounded only by the wall clock)
    and a warning is logged once.
    """
    key = python or ""
    with _python_lock:
        if key in _python_choice:
            return _python_choice[key]
        if os.geteuid() != 0:
            choice = (python or sys.executable, False)
        else:
            candidates = (
                [python] if python else [sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"]
            )
            usable = next((c for c in candidates if c and os.path.exists(c) and _probe(c)), None)
            if usable is None:
                logger.warning(
                    "code sandbox: running as root and no Python an unprivileged user can read (%s); "
                    "the process-count limit cannot be enforced",
                    ", ".join(c for c in candidates if c),
                )
                choice = (python or sys.executable, False)
            else:
                choice = (usable, True)
        _python_choice[key] = choice
        return choice


def _tasks_of_uid(uid: int) -> tuple[int, list[int]]:
    """(number of live tasks incl. threads, pids) owned by real ``uid``, read from /proc."""
    tasks, pids = 0, []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                status = fh.read()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("State", "").strip()[:1] in ("Z", "X"):  # dead, awaiting its reaper
            continue
        if int(fields.get("Uid", "-1 0").split()[0]) == uid:
            tasks += int(fields.get("Threads", "1").strip() or 1)
            pids.append(int(entry))
    return tasks, pids


def _sweep_uid(uid: int) -> None:
    """SIGKILL every process of ``uid`` (as that uid: ``kill(-1)`` reaches exactly its processes)."""
    killer = shutil.which("kill", path="/usr/bin:/bin")
    command = (
        [killer, "-9", "-1"] if killer else [sys.executable, "-I", "-S", "-c", "import os; os.kill(-1, 9)"]
    )
    for _ in range(3):
        if not _tasks_of_uid(uid)[1]:
            return
        try:
            subprocess.run(
                command,
                user=uid,
                group=uid,
                extra_groups=[],
                env={},
                cwd="/",
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=10,
            )
        except (OSError, subprocess.SubprocessError):
            return


def _read_capped(path: Path, cap: int) -> str:
    with open(path, "rb") as fh:
        return fh.read(cap).decode("utf-8", errors="replace")


def run_python(
    code: str,
    *,
    stdin: str = "",
    units: list[tuple[str, int]] | None = None,
    limits: SandboxLimits = SandboxLimits(),
    python: str | None = None,
) -> SandboxResult:
    """Run ``code`` in the sandbox.

    Without ``units`` the program runs as ``__main__`` with ``stdin``; its output is returned. With
    ``units`` (``[(source, index)]``, index -1 for setup) each unit runs after the program in its
    namespace and ``unit_passed[index]`` says whether it raised nothing.
    """
    interpreter, drop = sandbox_python(python)
    workdir = tempfile.mkdtemp(prefix="r1-sandbox-")
    uid = (1 << 30) + secrets.randbelow(1 << 29) if drop else None
    base = Path(workdir)
    nonce = secrets.token_hex(16)
    try:
        if uid is not None:
            os.chown(workdir, uid, uid)
        os.chmod(workdir, 0o700)
        # +1: the harness that supervises the program in its PID namespace
        nproc = limits.max_processes + 1 + (0 if drop else _tasks_of_uid(os.getuid())[0])
        (base / "stdin.txt").write_text(stdin)
        result_fd = os.open(base / "results.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        config = {
            "mode": "stdio" if units is None else "units",
            "code": code,
            "units": units or [],
            "nonce": nonce,
            "result_fd": result_fd,
            # a second above the wall clock, so a busy loop is reported as a timeout
            "cpu_s": math.ceil(limits.timeout_s) + 1,
            "memory_bytes": int(limits.memory_mb) << 20,
            "max_file_bytes": int(limits.max_output_bytes),
            "nproc": int(nproc),
            "uid": uid,
            "gid": uid,
        }
        config_path = base / "config.json"
        fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(config, fh)
        with (
            open(base / "stdin.txt", "rb") as fin,
            open(base / "stdout.txt", "wb") as fout,
            open(base / "stderr.txt", "wb") as ferr,
        ):
            proc = subprocess.Popen(
                [interpreter, "-I", str(CHILD), str(config_path)],
                stdin=fin,
                stdout=fout,
                stderr=ferr,
                env=_clean_env(workdir),
                cwd=workdir,
                start_new_session=True,
                pass_fds=(result_fd,),
            )
        os.close(result_fd)
        timed_out = False
        try:
            returncode: int | None = proc.wait(timeout=limits.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            returncode = None
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the run's session, stragglers included
        except (ProcessLookupError, PermissionError):
            pass
        if returncode is None:
            proc.wait()
        if uid is not None:
            _sweep_uid(uid)
        passed: dict[int, bool] = {}
        for line in _read_capped(base / "results.txt", 1 << 20).splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == nonce and parts[1].lstrip("-").isdigit():
                passed[int(parts[1])] = parts[2] == "1"
        return SandboxResult(
            returncode=returncode,
            stdout=_read_capped(base / "stdout.txt", limits.max_output_bytes),
            stderr=_read_capped(base / "stderr.txt", limits.max_output_bytes),
            timed_out=timed_out,
            unit_passed=passed,
            uid=uid,
            pgid=proc.pid,
            workdir=workdir,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
