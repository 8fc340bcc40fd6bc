"""A synthetic market: geometric Brownian motion prices and random trade sizes per symbol."""

from __future__ import annotations

import math
import random
import threading

from common.contract import build_trade_message, epoch_ms, synthetic_message_id
from producer.publisher import Publisher
from producer.source import CycleResult

# Rough price levels of the default tickers, so the demo looks like the real market.
START_PRICES = {
    "AAPL": 230.0,
    "MSFT": 420.0,
    "GOOGL": 170.0,
    "TSLA": 250.0,
    "AMZN": 190.0,
    "META": 560.0,
    "NVDA": 130.0,
    "NFLX": 700.0,
}
# Volatility per square root of a second: about 2.5 % over an hour, lively enough to watch.
SIGMA_PER_SQRT_SECOND = 0.0004


class SyntheticMarket:
    """Generates trades for a set of symbols; the same seed gives the same prices and sizes."""

    def __init__(self, symbols, seed: int | None = None):
        self._random = random.Random(seed)
        self._prices = {s: START_PRICES.get(s, self._random.uniform(20, 500)) for s in symbols}
        self._last_time_ms: dict[str, int] = {}
        self._sequence = 0

    def next_trade(self, symbol: str, event_time_ms: int, ingested_at_ms: int) -> dict:
        """Advance one symbol's price to `event_time_ms` and return the trade as a contract message."""
        last = self._last_time_ms.get(symbol, event_time_ms)
        dt = max(event_time_ms - last, 1) / 1000.0
        shock = self._random.gauss(0.0, 1.0) * SIGMA_PER_SQRT_SECOND * math.sqrt(dt)
        price = self._prices[symbol] * math.exp(shock - 0.5 * (SIGMA_PER_SQRT_SECOND**2) * dt)
        self._prices[symbol] = price
        self._last_time_ms[symbol] = event_time_ms
        self._sequence += 1
        volume = max(1, int(self._random.lognormvariate(4.0, 1.2)))
        return build_trade_message(
            message_id=synthetic_message_id(symbol, event_time_ms, self._sequence),
            symbol=symbol,
            price=round(price, 4),
            volume=float(volume),
            event_time_ms=event_time_ms,
            source="synthetic",
            ingested_at_ms=ingested_at_ms,
        )


class SyntheticSource:
    """A polling source over the synthetic market: one trade per symbol per cycle, or `rate`
    trades per second spread over the symbols and over the time since the last cycle."""

    name = "synthetic"

    def __init__(self, symbols, seed: int | None = None, rate: float | None = None, interval: float = 1.0):
        self.symbols = tuple(symbols)
        self.interval = interval
        self._interval_ms = round(interval * 1000)
        self._market = SyntheticMarket(self.symbols, seed)
        self._rate = rate
        self._last_ms: int | None = None
        self._owed = 0.0  # fractional trades carried to the next cycle
        self._next_symbol = 0

    def usage(self) -> str:
        """Nothing to report: the synthetic market has no call limit."""
        return ""

    def run_cycle(self, publisher: Publisher, stop: threading.Event, deadline: float) -> CycleResult:
        """Publish this cycle's trades, stamped with times up to now."""
        now = epoch_ms()
        if self._rate is None:
            times = [now] * len(self.symbols)
            symbols = list(self.symbols)
        else:
            # At most one interval per cycle: when the broker cannot take `rate`, the producer
            # publishes as fast as it can instead of piling up an ever larger debt in memory.
            since = max(self._last_ms or 0, now - self._interval_ms)
            self._owed += self._rate * max(now - since, 0) / 1000
            count, self._owed = int(self._owed), self._owed - int(self._owed)
            times = [since + (now - since) * (i + 1) // count for i in range(count)] if count else []
            symbols = [self.symbols[(self._next_symbol + i) % len(self.symbols)] for i in range(count)]
            self._next_symbol = (self._next_symbol + count) % len(self.symbols)
        self._last_ms = now
        for symbol, event_time in zip(symbols, times, strict=True):
            publisher.publish(self._market.next_trade(symbol, event_time, now))
        return CycleResult(published=len(times))
