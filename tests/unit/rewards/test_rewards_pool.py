"""The grading pool: per-item wall clock, kill-and-replace, dead workers, order of results."""

from __future__ import annotations

import os
import signal
import time

import pytest

from r1cli.rewards.pool import GradingPool


@pytest.fixture
def pool():
    p = GradingPool(1)
    yield p
    p.close()


def test_results_come_back_in_input_order():
    p = GradingPool(2)
    try:
        got = p.map(pow, [(2, k) for k in range(10)], timeout_s=5)  # 2**0 .. 2**9
        assert [r.value for r in got] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
        assert {r.status for r in got} == {"ok"}
    finally:
        p.close()


def test_slow_item_is_abandoned_by_the_worker_timer(pool):
    # time.sleep is interrupted by the worker's SIGALRM: a timeout, no kill needed
    got = pool.map(time.sleep, [(60,)], timeout_s=0.3)
    assert got[0].status == "timeout" and pool.stats.kills == 0 and pool.stats.timeouts == 1


def test_hard_kill_replaces_a_worker_that_ignores_its_timer(pool):
    # A worker stuck where signals cannot reach it (SIGALRM blocked, like sympy computing in C)
    # is SIGKILLed after timeout + grace; its item is a timeout and a fresh worker takes over.
    assert (
        pool.map(signal.pthread_sigmask, [(signal.SIG_BLOCK, [signal.SIGALRM])], timeout_s=5)[0].status
        == "ok"
    )
    first_pid = pool._workers[0].pid
    stuck = pool.map(time.sleep, [(60,)], timeout_s=0.3, grace_s=0.3)
    assert stuck[0].status == "timeout"
    assert pool.stats.kills == 1 and pool._workers[0].pid != first_pid
    assert pool.map(abs, [(-3,)], timeout_s=5)[0] == ("ok", 3)  # the replacement works


def test_worker_dying_mid_item_is_an_error_not_a_hang(pool):
    got = pool.map(os._exit, [(1,)], timeout_s=5)  # the worker process exits while working
    assert got[0].status == "error"
    assert pool.map(abs, [(-2,)], timeout_s=5)[0] == ("ok", 2)


def test_worker_killed_while_idle_is_replaced(pool):
    pool.map(abs, [(1,)], timeout_s=5)
    os.kill(pool._workers[0].pid, signal.SIGKILL)
    time.sleep(0.1)
    assert pool.map(abs, [(-5,)], timeout_s=5)[0] == ("ok", 5)


def test_library_exceptions_are_errors(pool):
    got = pool.map(int, [("not a number",)], timeout_s=5)
    assert got[0].status == "error" and "ValueError" in got[0].value


def test_a_call_that_fails_midway_leaves_the_pool_consistent():
    p = GradingPool(2)
    try:
        # item 0 goes out to worker 0; item 1 cannot be pickled, so the call raises while item 0
        # is still in flight. Its late answer must not be read as an answer of the next call.
        with pytest.raises(Exception):  # noqa: B017 - pickle raises AttributeError or PicklingError
            p.map(abs, [(-1,), (lambda: 0,)], timeout_s=5)
        assert [r.value for r in p.map(abs, [(-7,), (-8,), (-9,)], timeout_s=5)] == [7, 8, 9]
    finally:
        p.close()
