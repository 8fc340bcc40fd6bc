"""A synthetic market: geometric Brownian motion prices and random trade sizes per symbol."""

from __future__ import annotations

import math
import random

from common.contract import build_trade_message

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
            message_id=f"{symbol}:s:{event_time_ms}:{self._sequence}",
            symbol=symbol,
            price=round(price, 4),
            volume=float(volume),
            event_time_ms=event_time_ms,
            source="synthetic",
            ingested_at_ms=ingested_at_ms,
        )
