"""The producer's long-running loops: polling cycles on a fixed schedule, or a stream, until stopped."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from producer.publisher import Publisher
from producer.schedule import next_cycle_start
from producer.source import CycleResult, PollingSource

log = logging.getLogger(__name__)

QUIET_LOG_SECONDS = 10.0  # cycles shorter than this are summed up in one line this often


def _wall_clock_after(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%H:%M:%S")


def should_log_cycles(interval: float, seconds_since_last_line: float, finished: bool) -> bool:
    """Whether the cycles run since the last progress line get one now: every cycle when cycles are
    QUIET_LOG_SECONDS or longer, else once that often, and always after the last one."""
    return finished or interval >= QUIET_LOG_SECONDS or seconds_since_last_line >= QUIET_LOG_SECONDS


def describe_cycles(first: int, last: int, result: CycleResult, slowest: float) -> str:
    """'cycle 12: 8 ok, ... in 0.41 s' for one cycle, 'cycles 3-12: 80 ok, ... (slowest 0.41 s)' for several."""
    if first == last:
        return f"cycle {last}: {result.describe()} in {slowest:.2f} s"
    return f"cycles {first}-{last}: {result.describe()} (slowest {slowest:.2f} s)"


def run_cycles(source: PollingSource, publisher: Publisher, cycles: int | None, stop: threading.Event) -> int:
    """Run the source's polling cycles every `source.interval` seconds on a fixed grid; return how many ran."""
    interval = source.interval
    t0 = time.monotonic()
    done = 0
    logged_through, pending, slowest, last_line = 0, CycleResult(), 0.0, time.monotonic()
    while not stop.is_set():
        started = time.monotonic()
        deadline = next_cycle_start(t0, interval, started)
        result = source.run_cycle(publisher, stop, deadline)
        publisher.flush()
        done += 1
        elapsed = time.monotonic() - started
        pending.add(result)
        slowest = max(slowest, elapsed)
        finished = cycles is not None and done >= cycles
        next_start = next_cycle_start(t0, interval, time.monotonic())
        if should_log_cycles(interval, time.monotonic() - last_line, finished):
            usage = source.usage()
            log.info(
                "%s%s; %s",
                describe_cycles(logged_through + 1, done, pending, slowest),
                f", {usage}" if usage else "",
                "done" if finished else f"next at {_wall_clock_after(next_start - time.monotonic())}",
            )
            logged_through, pending, slowest, last_line = done, CycleResult(), 0.0, time.monotonic()
        if finished:
            break
        if elapsed > interval:
            log.warning("cycle %d took %.2f s, longer than the %.3g s interval", done, elapsed, interval)
        stop.wait(max(0.0, next_start - time.monotonic()))
    return done
