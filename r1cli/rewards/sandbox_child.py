"""Sandbox harness: the first code run in a sandboxed child, before any untrusted code.

Run as ``python -I sandbox_child.py CONFIG.json`` by :mod:`r1cli.rewards.sandbox` (stdlib only;
kept compatible with Python 3.8 because the sandbox may use the system interpreter). It:

1. reads its config and deletes the file (the result nonce then lives only in this process);
2. blocks the network: a fresh network namespace via ``unshare`` (as root; otherwise inside a new
   user namespace where the kernel allows it), plus an audit hook refusing non-Unix sockets;
3. sets ``RLIMIT_CPU``, ``RLIMIT_AS``, ``RLIMIT_FSIZE``, ``RLIMIT_NPROC`` and ``RLIMIT_CORE``;
4. drops root for a throwaway uid/gid (so ``RLIMIT_NPROC`` binds and root-only files are out of reach);
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
CLONE_NEWNET = 0x40000000


def _unshare_network(as_root):
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        flags = CLONE_NEWNET if as_root else (CLONE_NEWUSER | CLONE_NEWNET)
        return libc.unshare(flags) == 0
    except Exception:
        return False


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


def main():
    path = sys.argv[1]
    with open(path) as fh:
        cfg = json.load(fh)
    os.unlink(path)
    as_root = os.geteuid() == 0
    _block_network(_unshare_network(as_root))
    _set_limits(cfg)
    if cfg.get("uid") is not None:
        _drop_privileges(cfg["uid"], cfg["gid"])
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
