"""The code sandbox's filesystem wall: bubblewrap (``bwrap``) namespaces around each run.

The sandboxed program runs inside fresh user, mount, PID, network, IPC and UTS namespaces (cgroup
where the kernel has it; nested user namespaces disabled where bwrap supports it) and sees only:

- its scratch directory, read-write, at the same path as on the host (cwd, ``HOME`` and ``TMPDIR``);
- the Python runtime, read-only, derived from the interpreter itself (never from this machine's
  layout): the interpreter, the directories on its own ``sys.path`` (stdlib, ``lib-dynload``), the
  directories of every shared library it maps once its extension modules are loaded, the symlinks
  through which the dynamic loader finds them, and the loader cache ``/etc/ld.so.cache``;
- a ``/proc`` of its own PID namespace (no host process, no host ``/proc/*/cmdline``) and bwrap's
  minimal ``/dev`` (null, zero, full, random, urandom, tty), read-only.

The root is bwrap's empty tmpfs, remounted read-only, so ``/tmp``, ``/var/tmp``, ``/dev/shm`` and
every other host path are absent or read-only: writes fail and leave nothing on the host.

Opt-out (only where the kernel forbids user namespaces): the code reward's ``fs_isolation=false``
or ``R1_SANDBOX_FS_ISOLATION=0``. The run then has the older walls only (see
:mod:`r1cli.rewards.sandbox`) and a warning is printed once in every process that uses it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from r1cli.errors import R1Error

logger = logging.getLogger(__name__)

ENV = "R1_SANDBOX_FS_ISOLATION"
OPT_OUT = (
    f"to run without the filesystem wall pass fs_isolation=false to the code reward or set {ENV}=0 "
    "(a warning is printed on every run)"
)
_FALSE = {"0", "false", "no", "off"}
_TRUE = {"", "1", "true", "yes", "on"}
_warned = False

# Run by the candidate interpreter with -I -S: its base executable, its own import path and every
# file it maps once the extension modules on that path are loaded (shared libraries, locale data).
_DISCOVER = r"""
import importlib, json, os, sys
exe = getattr(sys, "_base_executable", "") or sys.executable
if sys.prefix != sys.base_prefix and os.path.realpath(exe).startswith(os.path.realpath(sys.prefix) + os.sep):
    exe = os.path.join(sys.base_prefix, "bin", "python%d.%d" % sys.version_info[:2])
path = [os.path.realpath(p) for p in sys.path if p and os.path.isdir(p)]
for d in path:
    for name in sorted(os.listdir(d)):
        if name.endswith(".so") and "." in name:
            try:
                importlib.import_module(name.split(".")[0])
            except BaseException:
                pass
maps = set()
with open("/proc/self/maps") as fh:
    for line in fh:
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[5].startswith("/") and not parts[5].rstrip().endswith("(deleted)"):
            maps.add(parts[5].rstrip("\n"))
print("R1-RUNTIME " + json.dumps({"executable": os.path.realpath(exe), "path": path, "maps": sorted(maps)}))
"""
_TRACE_LINE = re.compile(r"^\s*(\S+)(?:\s+=>\s+(\S+))?\s+\(0x[0-9a-f]+\)\s*$")


def fs_isolation_enabled(fs_isolation: bool = True) -> bool:
    """The wall is on unless the caller passes ``fs_isolation=False`` or ``R1_SANDBOX_FS_ISOLATION=0``."""
    value = os.environ.get(ENV, "").strip().lower()
    if value not in _TRUE | _FALSE:
        raise R1Error(f"{ENV}={os.environ[ENV]!r} is not a switch; use 1 (the default: walled) or 0 (no wall)")
    return bool(fs_isolation) and value not in _FALSE


def warn_unwalled() -> None:
    """Say (once per process, so once in every ``r1`` run) that sandboxed code can see the host's files."""
    global _warned
    if not _warned:
        _warned = True
        logger.warning(
            "code sandbox: the filesystem wall is OFF (fs_isolation=false or %s=0): sandboxed code can "
            "read host files and write /tmp, /dev/shm and /var/tmp; turn it back on wherever the kernel "
            "allows user namespaces",
            ENV,
        )


def _find_bwrap() -> str | None:
    return shutil.which("bwrap", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/bin", "/bin"]))


def bwrap_path() -> str:
    """The ``bwrap`` executable, or an R1Error that says how to install it."""
    found = _find_bwrap()
    if not found:
        raise R1Error(
            "code sandbox: bubblewrap ('bwrap') is not installed; it walls sandboxed code off the host's "
            "files: install it (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap; "
            f"Arch: pacman -S bubblewrap), or {OPT_OUT}"
        )
    return found


_bwrap_help: dict[str, str] = {}


def bwrap_supports(bwrap: str, option: str) -> bool:
    if bwrap not in _bwrap_help:
        try:
            done = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=10)
            _bwrap_help[bwrap] = done.stdout + done.stderr
        except (OSError, subprocess.SubprocessError):
            _bwrap_help[bwrap] = ""
    return option in _bwrap_help[bwrap]


def _chain(path: str, links: dict[str, str], depth: int = 0) -> str:
    """Resolve ``path`` component by component, recording every symlink met; returns the real path."""
    if depth > 40:
        raise OSError(f"too many levels of symbolic links under {path}")
    parts = [p for p in os.path.normpath(path).split("/") if p]
    current = ""
    for i, name in enumerate(parts):
        step = f"{current}/{name}"
        if os.path.islink(step):
            target = os.readlink(step)
            links[step] = target
            anchor = target if target.startswith("/") else os.path.join(current or "/", target)
            return _chain(os.path.normpath(os.path.join(anchor, *parts[i + 1 :])), links, depth + 1)
        current = step
    return current or "/"


def _under(path: str, roots: set[str]) -> bool:
    return any(path != root and path.startswith(root.rstrip("/") + "/") for root in roots)


def mirror(files: list[str], dirs: list[str], lookups: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """``(read-only bind paths, [(symlink path, target)])`` that reproduce these host paths in the sandbox.

    ``files`` and ``dirs`` are bound at their real paths; for ``lookups`` (paths the loader opens)
    the real file's directory is bound. Every symlink on the way is recreated, so each path resolves
    inside as it does outside. Paths inside a bound directory need nothing more.
    """
    links: dict[str, str] = {}
    binds = {_chain(p, links) for p in files + dirs}
    binds |= {os.path.dirname(_chain(p, links)) for p in lookups}
    binds = {b for b in binds if os.path.exists(b) and not _under(b, binds)}
    kept = sorted((dest, target) for dest, target in links.items() if not _under(dest, binds) and dest not in binds)
    return sorted(binds), kept


@dataclass(frozen=True)
class Runtime:
    """What the sandbox must show of one Python: run ``interpreter``; bind ``binds``; make ``links``."""

    interpreter: str
    binds: tuple[str, ...]
    links: tuple[tuple[str, str], ...]


def _loader_lookups(executable: str, env: dict[str, str]) -> list[str]:
    """The paths through which the dynamic loader finds ``executable``'s libraries (glibc's trace mode)."""
    try:
        done = subprocess.run(
            [executable],
            env={**env, "LD_TRACE_LOADED_OBJECTS": "1"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    lookups = []
    for line in done.stdout.splitlines():
        match = _TRACE_LINE.match(line)
        if match:
            path = match.group(2) or match.group(1)
            if path.startswith("/"):
                lookups.append(path)
    return lookups


def discover_runtime(python: str, env: dict[str, str]) -> Runtime:
    """Ask ``python`` which files it needs (see ``_DISCOVER``); OSError/ValueError when it cannot say."""
    done = subprocess.run(
        [python, "-I", "-S", "-c", _DISCOVER],
        env=env,
        cwd="/",
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("R1-RUNTIME ")), None)
    if done.returncode != 0 or line is None:
        tail = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise ValueError(f"it could not describe its runtime ({tail})")
    info = json.loads(line[len("R1-RUNTIME ") :])
    executable = info["executable"]
    if not os.path.isfile(executable):
        raise ValueError(f"its base interpreter {executable} does not exist")
    mapped = [p for p in info["maps"] if os.path.isfile(p)]
    files = [executable] + [p for p in ("/etc/ld.so.cache",) if os.path.isfile(p)]
    dirs = list(info["path"]) + sorted({os.path.dirname(p) for p in mapped if p != executable})
    binds, links = mirror(files, dirs, _loader_lookups(executable, env))
    return Runtime(interpreter=executable, binds=tuple(binds), links=tuple(links))


def bwrap_argv(bwrap: str, runtime: Runtime, base: Path, work: Path, harness_fd: int) -> list[str]:
    """bwrap's command line for one run (the interpreter and harness arguments follow it)."""
    argv = [
        bwrap,
        "--unshare-user",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        "sandbox",
        "--die-with-parent",
        "--new-session",
    ]
    if bwrap_supports(bwrap, "--disable-userns"):
        argv.append("--disable-userns")
    for path in runtime.binds:
        argv += ["--ro-bind", path, path]
    for dest, target in runtime.links:
        argv += ["--symlink", target, dest]
    argv += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev"]
    argv += ["--bind", str(work), str(work), "--chdir", str(work)]
    argv += ["--ro-bind-data", str(harness_fd), str(base / "sandbox_child.py")]
    argv += ["--remount-ro", "/", "--"]
    return argv


_NAMESPACE_FAILURE = re.compile(r"namespace|uid map|gid map|setgroups", re.I)


def namespace_failure(reason: str) -> bool:
    """Does this bwrap message say the kernel refused the namespaces (the same for every interpreter)?"""
    return reason.startswith("bwrap:") and bool(_NAMESPACE_FAILURE.search(reason))


def setup_error(reasons: list[tuple[str, str]], explicit: bool) -> R1Error:
    """The one-line error when no candidate interpreter ran inside the wall (``[(python, why)]``)."""
    refused = [reason for _, reason in reasons if namespace_failure(reason)]
    if refused:
        return R1Error(
            f"code sandbox: the kernel does not allow the user namespaces the filesystem wall needs "
            f"({refused[0]}); allow them (sysctl user.max_user_namespaces > 0, and "
            "kernel.unprivileged_userns_clone=1 or kernel.apparmor_restrict_unprivileged_userns=0 where "
            f"those exist), or {OPT_OUT}"
        )
    why = "; ".join(f"{python}: {reason}" for python, reason in reasons)
    if any("r1-sandbox-" in reason for _, reason in reasons):
        hint = (f"the sandbox uid cannot reach the scratch dirs under {tempfile.gettempdir()}: set TMPDIR to "
                "a directory every user can traverse (e.g. /tmp)")
    elif explicit:
        hint = "pass python= an interpreter every user can read"
    else:
        hint = "install a system python3 (/usr/bin/python3) or pass python= one every user can read"
    return R1Error(f"code sandbox: no Python interpreter runs inside the filesystem wall ({why}); {hint}, or {OPT_OUT}")


def harness_source(child: Path) -> bytes:
    data = child.read_bytes()
    if len(data) >= 60_000:  # handed over through a pipe that must not block before the child reads it
        raise RuntimeError(f"{child} is too large to hand to the sandbox through a pipe")
    return data


def python_for_sandbox() -> list[str]:
    """Candidate interpreters when the caller names none: this one, then the system's."""
    seen, out = set(), []
    for candidate in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"):
        if candidate and os.path.exists(candidate) and os.path.realpath(candidate) not in seen:
            seen.add(os.path.realpath(candidate))
            out.append(candidate)
    return out
