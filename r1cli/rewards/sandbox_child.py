"""Sandbox harness: the first code run in a sandboxed child, before any untrusted code.

Run as ``python -I -X utf8 sandbox_child.py CONFIG_FD RUN_DIR`` by :mod:`r1cli.rewards.sandbox`
(stdlib only; kept compatible with Python 3.8 because the sandbox may use the system interpreter;
``RUN_DIR`` is unused: it names the run's processes on the host). It:

1. reads its config from the inherited descriptor ``CONFIG_FD`` and closes every descriptor but
   stdio and the result fd (the result nonce then lives only in this process);
2. inside bubblewrap's namespaces (``contained``: user, mount, PID, network, ... made by bwrap, which
   already runs it as the throwaway uid) only adds the audit hook below; without the wall it enters
   fresh network and PID namespaces via ``unshare`` (as root; otherwise inside a new user namespace
   where the kernel allows it) and adds an audit hook refusing non-Unix sockets (and, if no network
   namespace could be made, starting other programs);
3. sets ``RLIMIT_CPU``, ``RLIMIT_AS``, ``RLIMIT_FSIZE``, ``RLIMIT_NPROC`` and ``RLIMIT_CORE``;
4. without the wall, drops root for a throwaway uid/gid (so ``RLIMIT_NPROC`` binds and root-only
   files are out of reach) and forks the program as PID 1 of the new PID namespace (this process
   waits and passes its exit status on), so every process it leaves behind dies with it (inside
   the wall, bwrap's reaper is that PID 1);
5. runs the program: ``stdio`` mode executes it as ``__main__``; ``units`` mode executes it, then
   each test unit in the same namespace, writing ``"<nonce> <index> <0|1>"`` lines to the result fd
   after every counted unit (a program that exits early or prints fake results gains nothing).
"""

import builtins
import ctypes
import json
import os
import resource
import sys
import traceback

CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1


def _isolate(as_root):
    """Enter new network and PID namespaces (inside a new user namespace when not root).

    Returns ``(network_isolated, pid_namespace)``; falls back to network only, then to nothing.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False, False
    user = 0 if as_root else CLONE_NEWUSER
    if libc.unshare(user | CLONE_NEWNET | CLONE_NEWPID) == 0:
        return True, True
    return libc.unshare(user | CLONE_NEWNET) == 0, False


def _supervise(child):
    """Wait for the namespace's first process and exit with its status (128+signal if killed)."""
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


def _die_with_parent():
    try:
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, 9)  # SIGKILL if the supervisor is killed
    except (OSError, AttributeError):
        pass


_SOCKET_EVENTS = ("socket.connect", "socket.bind", "socket.sendto", "socket.getaddrinfo")
_SPAWN_EVENTS = ("os.exec", "os.posix_spawn", "os.spawn", "os.system", "subprocess.Popen")


def _block_network(isolated):
    """Refuse non-Unix sockets; without a network namespace also refuse starting other programs."""
    import socket

    unix = getattr(socket, "AF_UNIX", 1)
    blocked = _SOCKET_EVENTS if isolated else _SOCKET_EVENTS + _SPAWN_EVENTS

    def hook(event, args):
        if (event == "socket.__new__" and args[1] != unix) or event in blocked:
            raise PermissionError("network access is disabled in the sandbox")

    if hasattr(sys, "addaudithook"):
        sys.addaudithook(hook)


def _set_limits(cfg):
    cpu = int(cfg["cpu_s"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (cfg["memory_bytes"], cfg["memory_bytes"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (cfg["max_file_bytes"], cfg["max_file_bytes"]))
    resource.setrlimit(resource.RLIMIT_NPROC, (cfg["nproc"], cfg["nproc"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _drop_privileges(uid, gid):
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise RuntimeError("could not drop privileges")


def _finish(code):
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    os._exit(code)


def _read_config(fd):
    with os.fdopen(fd, "rb") as fh:
        cfg = json.loads(fh.read().decode("utf-8"))
    keep = cfg["result_fd"]
    limit = min(resource.getrlimit(resource.RLIMIT_NOFILE)[0], 1 << 16)
    os.closerange(3, keep)  # e.g. the pipe bwrap read this harness from
    os.closerange(keep + 1, max(limit, keep + 1))
    return cfg


def main():
    cfg = _read_config(int(sys.argv[1]))
    if cfg.get("contained"):
        network_isolated, pid_namespace = True, False  # bwrap made the namespaces; its reaper is PID 1
    else:
        network_isolated, pid_namespace = _isolate(os.geteuid() == 0)
    _block_network(network_isolated)
    _set_limits(cfg)
    if cfg.get("uid") is not None:
        _drop_privileges(cfg["uid"], cfg["gid"])
    if pid_namespace:
        # The program runs as PID 1 of the new namespace: when it ends (or is killed with this
        # supervisor), the kernel kills every process left in the namespace, daemons included.
        child = os.fork()
        if child:
            _supervise(child)
        _die_with_parent()
    sys.argv = ["solution.py"]
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    write, nonce, fd = os.write, cfg.get("nonce", ""), cfg.get("result_fd")
    try:
        exec(compile(cfg["code"], "solution.py", "exec"), namespace)
    except SystemExit as stop:
        if cfg["mode"] == "stdio":
            code = stop.code
            if code is None:
                _finish(0)
            if isinstance(code, int):
                _finish(code)
            print(code, file=sys.stderr)
            _finish(1)
        _finish(3)  # a program that exits before its tests run passes nothing
    except BaseException:
        traceback.print_exc()
        _finish(1)
    if cfg["mode"] == "stdio":
        _finish(0)
    for source, index in cfg["units"]:
        try:
            exec(compile(source, "tests.py", "exec"), namespace)
            ok = 1
        except BaseException:
            ok = 0
        if index >= 0:
            write(fd, f"{nonce} {index} {ok}\n".encode())
    _finish(0)


if __name__ == "__main__":
    main()
