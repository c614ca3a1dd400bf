"""Run untrusted Python in a throwaway, resource-limited, network-less child walled off the filesystem.

Each run gets: a fresh scratch directory (its cwd, HOME and TMPDIR), a clean environment (nothing of
ours is inherited: no API keys, tokens or paths), stdin from a file, stdout/stderr into files
capped by ``RLIMIT_FSIZE``, limits on CPU time, address space and process count, a wall clock
after which its whole session is SIGKILLed, and no network (see :mod:`r1cli.rewards.sandbox_child`).

Filesystem wall (default): the run happens inside bubblewrap's user, mount, PID, network, IPC and
UTS namespaces, where the program sees only its scratch directory (read-write), a read-only Python
runtime derived from the interpreter, its own ``/proc`` and a minimal read-only ``/dev``
(:mod:`r1cli.rewards.sandbox_fs`). The interpreter is probed once per process by running a program
inside the wall: ``python`` if given, else ``sys.executable``, ``/usr/bin/python3``,
``/usr/local/bin/python3``. No bwrap, or a kernel that forbids user namespaces, is a one-line
:class:`~r1cli.errors.R1Error` naming the opt-out (``fs_isolation=False`` or
``R1_SANDBOX_FS_ISOLATION=0``), which runs with the walls below only and warns once per process.

Process count: ``RLIMIT_NPROC`` does not bind uid 0, so as root every run gets a fresh random unused
uid (bwrap is started as that uid; without the wall the harness drops to it): the limit then counts
exactly this run's processes, root-only files are unreadable, and every process of that uid is swept
with ``kill -9 -1`` afterwards, even ones that left the session. As an ordinary user inside the wall
on Linux >= 5.14 the limit counts per user namespace, so it is exact too; otherwise it is the user's
current task count plus ``max_processes``, and the session is killed afterwards. The
program runs in its own PID namespace (bwrap's, or without the wall the harness's where the kernel
allows it), so whatever it leaves behind, daemons included, dies with it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import re
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from r1cli.errors import R1Error
from r1cli.rewards.sandbox_fs import (
    Runtime,
    bwrap_argv,
    bwrap_path,
    discover_runtime,
    fs_isolation_enabled,
    harness_source,
    namespace_failure,
    python_for_sandbox,
    setup_error,
    warn_unwalled,
)

logger = logging.getLogger(__name__)

CHILD = Path(__file__).with_name("sandbox_child.py")
_PROBE = "import ast, ctypes, json, resource, traceback"
_PROBE_PROGRAM = "import json\nprint('r1-sandbox-ok')"
_lock = threading.Lock()
_python_choice: dict[str, tuple[str, bool]] = {}
_choices: dict[tuple[str, bool], _Choice | R1Error] = {}


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
    fs_isolated: bool = False


@dataclass(frozen=True)
class _Choice:
    """How runs start: ``interpreter``; as a throwaway uid (``drop``); inside bwrap when ``runtime``."""

    interpreter: str
    drop: bool
    runtime: Runtime | None = None
    bwrap: str | None = None


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
    """``(interpreter, drop_privileges)`` for runs without the filesystem wall (probed once per process).

    As root the first interpreter an unprivileged uid can run is chosen and privileges are
    dropped; if none can, the run stays root (process count then bounded only by the wall clock)
    and a warning is logged once.
    """
    key = python or ""
    with _lock:
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


def _failure(res: SandboxResult) -> str:
    """The line that says why a probe run failed: bwrap's own message, else the program's last line."""
    lines = [line.strip() for line in res.stderr.splitlines() if line.strip()]
    wall = next((line for line in lines if line.startswith("bwrap:")), None)
    if wall or lines:
        return wall or lines[-1]
    return "timed out" if res.timed_out else f"exit code {res.returncode}, output {res.stdout.strip()[:80]!r}"


def _walled_choice(python: str | None) -> _Choice:
    """The first candidate interpreter that runs a probe program inside the wall, or an R1Error."""
    bwrap = bwrap_path()
    reasons: list[tuple[str, str]] = []
    for candidate in [python] if python else python_for_sandbox():
        try:
            runtime = discover_runtime(candidate, _clean_env("/"))
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            reasons.append((candidate, f"cannot inspect it: {exc}"))
            continue
        choice = _Choice(runtime.interpreter, os.geteuid() == 0, runtime, bwrap)
        try:
            res = _execute(_PROBE_PROGRAM, stdin="", units=None, limits=SandboxLimits(timeout_s=30.0), choice=choice)
        except OSError as exc:  # bwrap could not even be started (as the sandbox uid)
            reasons.append((candidate, f"cannot start {bwrap}: {exc}"))
            continue
        if res.returncode == 0 and res.stdout.strip() == "r1-sandbox-ok":
            return choice
        reasons.append((candidate, _failure(res)))
        if namespace_failure(reasons[-1][1]):
            break  # the kernel's answer, whichever interpreter asks
    raise setup_error(reasons, explicit=python is not None)


def sandbox_choice(python: str | None = None, fs_isolation: bool = True) -> _Choice:
    """How this process's runs start (probed once per ``python`` and wall setting; errors included)."""
    walled = fs_isolation_enabled(fs_isolation)
    key = (python or "", walled)
    with _lock:
        cached = _choices.get(key)
    if cached is None:
        try:
            if walled:
                cached = _walled_choice(python)
            else:
                cached = _Choice(*sandbox_python(python))
        except R1Error as exc:
            cached = exc
        with _lock:
            cached = _choices.setdefault(key, cached)
    if isinstance(cached, R1Error):
        raise R1Error(str(cached)) from None
    if not walled:
        warn_unwalled()
    return cached


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


def _nproc_counts_outer_process() -> bool:
    """Before Linux 5.14 ``RLIMIT_NPROC`` counts per user, not per user namespace: bwrap's outer
    process (outside the sandbox's namespace, same uid) then counts too."""
    numbers = [int(n) for n in re.findall(r"\d+", platform.release())[:2]]
    return len(numbers) == 2 and tuple(numbers) < (5, 14)


def _wait(proc: subprocess.Popen, timeout_s: float) -> int | None:
    """The exit status, or None once ``timeout_s`` passed. Waits on a pidfd where the OS has them:
    ``Popen.wait(timeout)`` polls with sleeps of up to 50 ms, which every run would pay."""
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        if not poller.poll(max(0, math.ceil(timeout_s * 1000))):
            return None
        return proc.wait()
    finally:
        os.close(pidfd)


def _read_fd(fd: int, cap: int) -> str:
    chunks, offset = [], 0
    while offset < cap:
        chunk = os.pread(fd, min(cap - offset, 1 << 20), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


def run_python(
    code: str,
    *,
    stdin: str = "",
    units: list[tuple[str, int]] | None = None,
    limits: SandboxLimits = SandboxLimits(),
    python: str | None = None,
    fs_isolation: bool = True,
) -> SandboxResult:
    """Run ``code`` in the sandbox.

    Without ``units`` the program runs as ``__main__`` with ``stdin``; its output is returned. With
    ``units`` (``[(source, index)]``, index -1 for setup) each unit runs after the program in its
    namespace and ``unit_passed[index]`` says whether it raised nothing. ``fs_isolation=False`` (or
    ``R1_SANDBOX_FS_ISOLATION=0``) runs without the filesystem wall, with a warning.
    """
    return _execute(code, stdin=stdin, units=units, limits=limits, choice=sandbox_choice(python, fs_isolation))


def _execute(
    code: str, *, stdin: str, units: list[tuple[str, int]] | None, limits: SandboxLimits, choice: _Choice
) -> SandboxResult:
    walled = choice.runtime is not None
    base = Path(tempfile.mkdtemp(prefix="r1-sandbox-"))
    work = base / "work"
    uid = (1 << 30) + secrets.randbelow(1 << 29) if choice.drop else None
    nonce = secrets.token_hex(16)
    ours: list[int] = []  # descriptors to close once the child has them

    def create(name: str, flags: int) -> int:
        fd = os.open(base / name, flags | os.O_CREAT | os.O_EXCL, 0o600)
        ours.append(fd)
        return fd

    try:
        os.chmod(base, 0o711)  # the sandbox uid reaches work/ (bwrap binds it as that uid), lists nothing
        work.mkdir(mode=0o700)
        if uid is not None:
            os.chown(work, uid, uid)
        # +1: the supervisor in the PID namespace (bwrap's reaper, or the harness without the wall).
        # Inside the wall on Linux >= 5.14 the count is per user namespace: exactly this run's tasks.
        old_kernel = _nproc_counts_outer_process()
        nproc = limits.max_processes + 1 + (1 if walled and old_kernel else 0)
        if not choice.drop and not (walled and not old_kernel):
            nproc += _tasks_of_uid(os.getuid())[0]
        stdin_fd = create("stdin.txt", os.O_RDWR)
        os.write(stdin_fd, stdin.encode("utf-8"))
        os.lseek(stdin_fd, 0, os.SEEK_SET)
        out_fd, err_fd = create("stdout.txt", os.O_RDWR), create("stderr.txt", os.O_RDWR)
        result_fd = create("results.txt", os.O_WRONLY)
        result_read = os.open(base / "results.txt", os.O_RDONLY)
        ours.append(result_read)
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
            "contained": walled,
            "uid": None if walled else uid,
            "gid": None if walled else uid,
        }
        config_fd = create("config.json", os.O_RDWR)
        os.write(config_fd, json.dumps(config).encode("utf-8"))
        os.lseek(config_fd, 0, os.SEEK_SET)
        # the harness's arguments: its config descriptor, and this run's dir (names its processes on the host)
        harness_args = [str(config_fd), str(base)]
        pass_fds = [result_fd, config_fd]
        user: dict = {}
        if walled:
            assert choice.runtime is not None and choice.bwrap is not None
            source_fd, write_end = os.pipe()
            ours.append(source_fd)
            os.write(write_end, harness_source(CHILD))
            os.close(write_end)
            pass_fds.append(source_fd)
            argv = bwrap_argv(choice.bwrap, choice.runtime, base, work, source_fd)
            argv += [choice.interpreter, "-I", "-X", "utf8", str(base / "sandbox_child.py"), *harness_args]
            if uid is not None:
                user = {"user": uid, "group": uid, "extra_groups": []}
        else:
            argv = [choice.interpreter, "-I", "-X", "utf8", str(CHILD), *harness_args]
        proc = subprocess.Popen(
            argv,
            stdin=stdin_fd,
            stdout=out_fd,
            stderr=err_fd,
            env=_clean_env(str(work)),
            cwd=str(work),
            start_new_session=True,
            pass_fds=tuple(pass_fds),
            **user,
        )
        returncode = _wait(proc, limits.timeout_s)
        timed_out = returncode is None
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the run's session, stragglers included
        except (ProcessLookupError, PermissionError):
            pass
        if returncode is None:
            proc.wait()
        if uid is not None:
            _sweep_uid(uid)
        passed: dict[int, bool] = {}
        for line in _read_fd(result_read, 1 << 20).splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == nonce and parts[1].lstrip("-").isdigit():
                passed[int(parts[1])] = parts[2] == "1"
        return SandboxResult(
            returncode=returncode,
            stdout=_read_fd(out_fd, limits.max_output_bytes),
            stderr=_read_fd(err_fd, limits.max_output_bytes),
            timed_out=timed_out,
            unit_passed=passed,
            uid=uid,
            pgid=proc.pid,
            workdir=str(base),
            fs_isolated=walled,
        )
    finally:
        for fd in ours:
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(base, ignore_errors=True)
