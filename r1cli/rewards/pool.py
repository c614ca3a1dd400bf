"""A process pool for work that can hang: one item per worker, a hard wall clock, kill and replace.

math-verify's timeouts rely on ``signal.alarm`` (main thread only) and do not bound sympy while it
computes in C (``5^{5^{5^{5^5}}}``). So each item runs in a forked worker:

- the worker arms its own ``ITIMER_REAL`` for ``timeout_s`` and abandons the item when it fires
  (status ``"timeout"``, the worker lives on);
- the parent waits at most ``timeout_s + grace_s`` for a result; past that it SIGKILLs the worker,
  records ``"timeout"`` for its item and forks a replacement.

The pool is created lazily on first use, reused by every later call in the process (a warm worker
costs one pipe round trip per item, about 0.1 ms), shut down at exit, and rebuilt if the process
forks. Workers are plain ``os.fork`` children (not ``multiprocessing.Process``) so the pool also
works inside daemonic processes; the parent imports heavy modules first (``warm``) so every worker
starts with them loaded. Calls from several threads are serialised by a lock.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, Pipe, wait
from typing import Any, NamedTuple

DEFAULT_GRACE_S = 0.5


class ItemResult(NamedTuple):
    """Outcome of one item: ``status`` is ``"ok"``, ``"timeout"`` or ``"error"``."""

    status: str
    value: Any


class _ItemTimeout(BaseException):
    """Raised inside a worker by its interval timer (BaseException: library ``except Exception`` misses it)."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _ItemTimeout()


def _worker_loop(conn: Connection) -> None:
    """Serve ``(index, fn, args, timeout_s)`` messages until ``None`` or EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business
    signal.signal(signal.SIGALRM, _on_alarm)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        index, fn, args, timeout_s = msg
        try:
            try:
                signal.setitimer(signal.ITIMER_REAL, timeout_s)
                reply = (index, "ok", fn(*args))
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _ItemTimeout:
            reply = (index, "timeout", None)
        except Exception as exc:  # a library bug must not take the worker down
            reply = (index, "error", f"{type(exc).__name__}: {exc}"[:500])
        try:
            conn.send(reply)
        except Exception:
            conn.send((index, "error", "result could not be sent back"))


@dataclass
class _Worker:
    pid: int
    conn: Connection
    busy: int | None = None  # index of the item in flight
    started: float = 0.0


@dataclass
class PoolStats:
    """Counters over the pool's life: items run, timed out (incl. kills), errors, workers killed/forked."""

    items: int = 0
    timeouts: int = 0
    errors: int = 0
    kills: int = 0
    forks: int = 0
    extra: dict = field(default_factory=dict)


class GradingPool:
    """Forked workers running module-level functions with a per-item wall clock.

    Args:
        workers: number of worker processes (forked lazily, on first need).
        warm: called once in the parent before the first fork (import math-verify there, so each
            worker starts with it loaded instead of paying ~0.5 s).
    """

    def __init__(self, workers: int, warm: Callable[[], Any] | None = None):
        self.size = max(1, int(workers))
        self._warm = warm
        self._warmed = False
        self._workers: list[_Worker] = []
        self._owner = os.getpid()
        self.stats = PoolStats()

    # -- lifecycle ---------------------------------------------------------------------------
    def _fork(self) -> _Worker:
        if not self._warmed and self._warm is not None:
            self._warm()
            self._warmed = True
        parent_end, child_end = Pipe(duplex=True)
        pid = os.fork()
        if pid == 0:  # child
            code = 0
            try:
                parent_end.close()
                # Hold no copies of the parent's files, sockets or sibling pipes: a socket the
                # parent closes must really close, and a dead sibling's pipe must read EOF.
                keep = child_end.fileno()
                os.closerange(3, keep)
                os.closerange(keep + 1, _max_fd())
                _worker_loop(child_end)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        child_end.close()
        self.stats.forks += 1
        return _Worker(pid=pid, conn=parent_end)

    def _ensure(self, n: int) -> list[_Worker]:
        while len(self._workers) < min(n, self.size):
            self._workers.append(self._fork())
        return self._workers[: min(n, self.size)]

    def _kill(self, worker: _Worker) -> None:
        try:
            os.kill(worker.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(worker.pid, 0)
        except ChildProcessError:
            pass
        worker.conn.close()

    def _replace(self, worker: _Worker) -> None:
        self._kill(worker)
        self.stats.kills += 1
        position = self._workers.index(worker)
        self._workers[position] = self._fork()

    def close(self) -> None:
        """Stop every worker (politely, then SIGKILL after 1 s). Safe to call twice."""
        if os.getpid() != self._owner:
            self._workers = []
            return
        for worker in self._workers:
            try:
                worker.conn.send(None)
            except OSError:
                pass
        deadline = time.monotonic() + 1.0
        for worker in self._workers:
            while time.monotonic() < deadline:
                try:
                    done, _ = os.waitpid(worker.pid, os.WNOHANG)
                except ChildProcessError:
                    break
                if done:
                    break
                time.sleep(0.01)
            else:
                self._kill(worker)
                continue
            worker.conn.close()
        self._workers = []

    # -- work --------------------------------------------------------------------------------
    def map(
        self,
        fn: Callable[..., Any],
        arglist: Sequence[tuple],
        timeout_s: float,
        *,
        max_workers: int | None = None,
        grace_s: float = DEFAULT_GRACE_S,
    ) -> list[ItemResult]:
        """Run ``fn(*args)`` for every ``args`` in ``arglist``; results in input order.

        ``fn`` must be a module-level function (it is pickled by name). An item that has not
        answered ``timeout_s + grace_s`` seconds after it was sent gets its worker killed.
        """
        n = len(arglist)
        if n == 0:
            return []
        limit = self.size if max_workers is None else max(1, min(self.size, max_workers))
        try:
            results = self._run(fn, arglist, timeout_s, self._ensure(min(limit, n)), timeout_s + grace_s)
        except BaseException:  # Ctrl-C or a bug: workers still busy would answer the next call
            for worker in list(self._workers):
                if worker.busy is not None:
                    worker.busy = None
                    self._replace(worker)
            raise
        self.stats.items += n
        return results

    def _run(
        self,
        fn: Callable[..., Any],
        arglist: Sequence[tuple],
        timeout_s: float,
        workers: list[_Worker],
        hard: float,
    ) -> list[ItemResult]:
        n = len(arglist)
        results: list[ItemResult | None] = [None] * n
        pending = deque(range(n))
        remaining = n
        send_failures = 0
        while remaining:
            for position, worker in enumerate(workers):
                if worker.busy is None and pending:
                    index = pending.popleft()
                    try:
                        worker.conn.send((index, fn, tuple(arglist[index]), timeout_s))
                    except OSError:  # it died while idle (e.g. OOM-killed): replace, retry later
                        send_failures += 1
                        if send_failures > 5:
                            raise RuntimeError("grading workers keep dying before they get work") from None
                        pending.appendleft(index)
                        self._replace(worker)
                        workers[position] = self._workers[position]
                        continue
                    worker.busy, worker.started = index, time.monotonic()
            busy = [w for w in workers if w.busy is not None]
            if not busy:
                continue
            next_deadline = min(w.started + hard for w in busy)
            ready = wait([w.conn for w in busy], timeout=max(0.0, next_deadline - time.monotonic()))
            by_conn = {id(w.conn): w for w in busy}
            for conn in ready:
                worker = by_conn[id(conn)]
                index = worker.busy
                try:
                    got_index, status, value = conn.recv()
                except (EOFError, OSError):  # the worker died (segfault, OOM kill)
                    results[index] = ItemResult("error", "grading worker died")
                    self.stats.errors += 1
                    worker.busy = None
                    self._replace(worker)
                    remaining -= 1
                    continue
                if got_index != index:
                    raise RuntimeError(f"grading pool out of sync: got item {got_index}, expected {index}")
                results[index] = ItemResult(status, value)
                self.stats.timeouts += status == "timeout"
                self.stats.errors += status == "error"
                worker.busy = None
                remaining -= 1
            now = time.monotonic()
            for worker in list(workers):
                if worker.busy is not None and now >= worker.started + hard:
                    results[worker.busy] = ItemResult("timeout", None)
                    self.stats.timeouts += 1
                    worker.busy = None
                    self._replace(worker)
                    remaining -= 1
            workers = self._workers[: len(workers)]
        return results  # type: ignore[return-value]


def _max_fd() -> int:
    try:
        return min(int(os.sysconf("SC_OPEN_MAX")), 1 << 20)
    except (ValueError, OSError):
        return 4096


def available_cpus() -> int:
    """Cores this process may run on (affinity-aware)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


_POOLS: dict[str, GradingPool] = {}
_LOCK = threading.Lock()


def _forget_after_fork() -> None:
    """In a forked child: the parent's pools are not ours, and its lock may be held by a thread
    that does not exist here. Start afresh (without touching the parent's workers)."""
    global _LOCK
    _LOCK = threading.Lock()
    _POOLS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def run_items(
    key: str,
    fn: Callable[..., Any],
    arglist: Sequence[tuple],
    timeout_s: float,
    *,
    workers: int | None = None,
    warm: Callable[[], Any] | None = None,
) -> list[ItemResult]:
    """Run items on the process-wide pool named ``key`` (created on first use, sized to the CPUs).

    Without ``os.fork`` (Windows) items run in-process with no time bound.
    """
    if not hasattr(os, "fork"):  # pragma: no cover - not POSIX
        return [ItemResult("ok", fn(*args)) for args in arglist]
    with _LOCK:
        pool = _POOLS.get(key)
        if pool is not None and pool._owner != os.getpid():  # inherited through a fork: not ours
            pool = None
        wanted = workers or available_cpus()
        if pool is None:
            pool = _POOLS[key] = GradingPool(wanted, warm=warm)
        pool.size = max(pool.size, wanted)  # grows lazily; never shrinks
        return pool.map(fn, arglist, timeout_s, max_workers=wanted)


def pool_stats(key: str) -> PoolStats | None:
    """Counters of the pool named ``key``, or None if it was never created in this process."""
    pool = _POOLS.get(key)
    return pool.stats if pool is not None else None


@atexit.register
def shutdown_pools() -> None:
    """Stop every pool of this process (registered with :mod:`atexit`)."""
    for pool in list(_POOLS.values()):
        pool.close()
    _POOLS.clear()
