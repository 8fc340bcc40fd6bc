"""What a producer source is. There are two kinds: a polling source, asked once per cycle on a fixed
schedule (Finnhub's REST quotes, the synthetic market), and a stream, run once until its input ends
or it is stopped (Finnhub's websocket trades, a replayed file). `python -m producer` builds one of
them and runs it with the matching loop."""

from __future__ import annotations

import threading
from dataclasses import dataclass, fields
from typing import Protocol, runtime_checkable

from producer.publisher import Publisher


@dataclass
class CycleResult:
    """What one polling cycle (or a run of them) did."""

    published: int = 0
    retried: int = 0
    rejected: int = 0
    failed: int = 0

    def add(self, other: CycleResult) -> None:
        """Sum another result into this one."""
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    def describe(self) -> str:
        """'8 ok, 1 retried, 0 rejected, 0 failed'."""
        return f"{self.published} ok, {self.retried} retried, {self.rejected} rejected, {self.failed} failed"


class Summary(Protocol):
    """What a stream did, for its last log line."""

    def describe(self) -> str: ...


@runtime_checkable
class PollingSource(Protocol):
    """Asked for its events once per cycle, every `interval` seconds (producer.loop.run_cycles)."""

    name: str
    symbols: tuple[str, ...]
    interval: float

    def run_cycle(self, publisher: Publisher, stop: threading.Event, deadline: float) -> CycleResult:
        """Publish this cycle's events; give up retrying at `deadline` (time.monotonic) or on `stop`."""
        ...

    def usage(self) -> str:
        """How much of its call budget the source used, for the progress line ('' when it has none)."""
        ...


@runtime_checkable
class StreamSource(Protocol):
    """Run once: publishes until its input ends or `stop` is set."""

    name: str
    symbols: tuple[str, ...]  # empty when the input names them (a replayed file)

    def run(self, publisher: Publisher, stop: threading.Event) -> Summary:
        """Publish until the end or `stop`; what it did."""
        ...


Source = PollingSource | StreamSource
