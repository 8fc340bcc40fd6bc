"""The demo's supervisor: a child that keeps exiting is restarted after 1, 2, 5, 10, 20 s, then given up."""

import logging
import sys
import time

import pytest

from devstack.demo import Supervisor
from devstack.process import wait_until

FAILING = [sys.executable, "-c", "print('Postgres at localhost:5433 is not reachable'); raise SystemExit(3)"]


def test_a_child_that_keeps_exiting_is_restarted_with_backoff_then_given_up(caplog):
    caplog.set_level(logging.INFO, logger="demo")
    supervisor = Supervisor({"flaky": FAILING})
    child = supervisor.children[0]
    supervisor.start()
    waits = []
    now = time.monotonic()
    for _ in range(5):
        child.process.wait(timeout=30)
        wait_until(lambda: len(child.last_lines) == 1, 10, "the child's line relayed")
        assert supervisor.check(now) is True
        waits.append(child.restart_at - now)
        assert supervisor.check(child.restart_at - 0.01) is True and child.restart_at is not None  # not yet
        now = child.restart_at
        child.last_lines.clear()
        assert supervisor.check(now) is True and child.restart_at is None  # restarted
    child.process.wait(timeout=30)
    wait_until(lambda: len(child.last_lines) == 1, 10, "the child's line relayed")
    assert supervisor.check(now) is False
    assert waits == pytest.approx([1.0, 2.0, 5.0, 10.0, 20.0])
    assert supervisor.failure == (
        "flaky exited 6 times in a row (last: exit code 3, 'Postgres at localhost:5433 is not reachable')"
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings[0] == (
        "flaky exited with code 3 (Postgres at localhost:5433 is not reachable); restarting in 1 s (restart 1 of 5)"
    )
    assert len(warnings) == 5


def test_a_child_that_ran_long_enough_starts_its_count_again():
    supervisor = Supervisor({"steady": [sys.executable, "-c", "import time; time.sleep(60)"]})
    child = supervisor.children[0]
    supervisor.start()
    try:
        child.restarts = 3
        assert supervisor.check(child.started_at + 119.0) is True and child.restarts == 3
        assert supervisor.check(child.started_at + 120.0) is True and child.restarts == 0
    finally:
        child.kill()
