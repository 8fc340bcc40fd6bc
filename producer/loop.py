"""The producer's long-running loop: cycles on a fixed schedule until stopped or done."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone

from producer.publisher import Publisher
from producer.schedule import next_cycle_start

log = logging.getLogger(__name__)


def run_cycles(source, publisher: Publisher, interval: float, cycles: int | None, stop: threading.Event) -> int:
    """Run polling cycles every `interval` seconds; return how many cycles ran."""
    t0 = time.monotonic()
    done = 0
    while not stop.is_set():
        started = time.monotonic()
        result = source.run_cycle(publisher, stop)
        publisher.flush()
        done += 1
        elapsed = time.monotonic() - started
        if cycles is not None and done >= cycles:
            log.info(
                "cycle %d: %d published, %d rejected, %d failed in %.2f s; done",
                done, result.published, result.rejected, result.failed, elapsed,
            )
            break
        next_start = next_cycle_start(t0, interval, time.monotonic())
        wall_next = datetime.now(timezone.utc).timestamp() + (next_start - time.monotonic())
        log.info(
            "cycle %d: %d published, %d rejected, %d failed in %.2f s; next at %s",
            done, result.published, result.rejected, result.failed, elapsed,
            datetime.fromtimestamp(wall_next, timezone.utc).strftime("%H:%M:%S.%f")[:-3],
        )
        if elapsed > interval:
            log.warning("cycle %d took %.2f s, longer than the %.2f s interval", done, elapsed, interval)
        stop.wait(max(0.0, next_start - time.monotonic()))
    return done
