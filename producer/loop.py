"""The producer's long-running loops: polling cycles on a fixed schedule, or a stream, until stopped."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone

from producer.publisher import Publisher
from producer.schedule import next_cycle_start

log = logging.getLogger(__name__)

QUIET_LOG_SECONDS = 10.0  # sub-second cycles are summed up in one line this often


@dataclass
class CycleResult:
    """What one polling cycle (or a run of them) did."""

    published: int = 0
    retried: int = 0
    rejected: int = 0
    failed: int = 0

    def add(self, other: "CycleResult") -> None:
        """Sum another result into this one."""
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    def describe(self) -> str:
        """'8 ok, 1 retried, 0 rejected, 0 failed'."""
        return f"{self.published} ok, {self.retried} retried, {self.rejected} rejected, {self.failed} failed"


def _wall_clock_after(seconds: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).strftime("%H:%M:%S")


def run_cycles(source, publisher: Publisher, interval: float, cycles: int | None, stop: threading.Event) -> int:
    """Run polling cycles every `interval` seconds on a fixed grid; return how many ran."""
    t0 = time.monotonic()
    done = 0
    pending, last_log = CycleResult(), time.monotonic()
    while not stop.is_set():
        started = time.monotonic()
        deadline = next_cycle_start(t0, interval, started)
        result = source.run_cycle(publisher, stop, deadline)
        publisher.flush()
        done += 1
        elapsed = time.monotonic() - started
        pending.add(result)
        finished = cycles is not None and done >= cycles
        next_start = next_cycle_start(t0, interval, time.monotonic())
        if interval >= 1.0 or finished or time.monotonic() - last_log >= QUIET_LOG_SECONDS:
            usage = source.usage()
            log.info(
                "cycle %d: %s in %.2f s%s; %s",
                done,
                pending.describe(),
                elapsed,
                f", {usage}" if usage else "",
                "done" if finished else f"next at {_wall_clock_after(next_start - time.monotonic())}",
            )
            pending, last_log = CycleResult(), time.monotonic()
        if finished:
            break
        if elapsed > interval:
            log.warning("cycle %d took %.2f s, longer than the %.3g s interval", done, elapsed, interval)
        stop.wait(max(0.0, next_start - time.monotonic()))
    return done
