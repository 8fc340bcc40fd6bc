"""The baselines' in-memory window aggregation, in plain Python: one running state per window."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def at(ms: int) -> datetime:
    """Epoch milliseconds as an aware UTC datetime."""
    return EPOCH + timedelta(milliseconds=ms)


class WindowState:
    """Running OHLC, mean and variance (Welford), volume and VWAP sums of one symbol's window."""

    __slots__ = ("count", "first", "high", "last", "low", "m2", "mean", "price_volume", "volume")

    def __init__(self):
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.high = -math.inf
        self.low = math.inf
        self.first = None  # (event_time, id, price) of the earliest event
        self.last = None
        self.volume = None
        self.price_volume = 0.0

    def add(self, event: dict) -> None:
        """Fold one event in."""
        price = event["price"]
        self.count += 1
        delta = price - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (price - self.mean)
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        order = (event["event_time"], event["id"], price)
        if self.first is None or order < self.first:
            self.first = order
        if self.last is None or order > self.last:
            self.last = order
        if event.get("volume") is not None:
            self.volume = (self.volume or 0.0) + event["volume"]
            self.price_volume += price * event["volume"]

    def row(self, symbol: str, start_ms: int, size_ms: int) -> tuple:
        """The window as a stock_aggregates row, in streaming.aggregation.AGGREGATE_COLUMNS order."""
        return (
            symbol,
            at(start_ms),
            at(start_ms + size_ms),
            self.first[2],
            self.high,
            self.low,
            self.last[2],
            self.mean,
            math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else None,
            self.count,
            self.volume,
            self.price_volume / self.volume if self.volume else None,
            at(self.first[0]),
            at(self.last[0]),
        )


class WindowBook:
    """Every window of every size, fed event by event with de-duplication by id."""

    def __init__(self, window_seconds: list[int]):
        self.sizes_ms = [s * 1000 for s in window_seconds]
        self.states: dict[tuple, WindowState] = {}
        self._seen: set[str] = set()

    def add(self, event: dict) -> list[tuple]:
        """Fold one event into its windows; the keys (symbol, start_ms, size_ms) it changed."""
        if event["id"] in self._seen:
            return []
        self._seen.add(event["id"])
        keys = []
        for size in self.sizes_ms:
            key = (event["symbol"], event["event_time"] - event["event_time"] % size, size)
            self.states.setdefault(key, WindowState()).add(event)
            keys.append(key)
        return keys

    def rows(self, keys) -> list[tuple]:
        """The current rows of the given windows."""
        return [self.states[key].row(*key) for key in keys]
