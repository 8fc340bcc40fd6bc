"""Candle rows for the analytics tests: built in Python, inserted into stock_aggregates."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from psycopg2.extras import execute_values


def candle(symbol: str, start: datetime, minutes: int, open_price: float, close_price: float) -> dict:
    """A candle row with the columns the analytics views read."""
    return {
        "symbol": symbol,
        "window_start": start,
        "window_end": start + timedelta(minutes=minutes),
        "open_price": open_price,
        "close_price": close_price,
    }


def random_series(
    symbol: str, start: datetime, minutes: int, count: int, seed: int, gap_every: int = 0, price: float = 100.0
) -> list[dict]:
    """`count` candles of one size from `start`, a random walk with some >2 % moves; with `gap_every`,
    a missing window after every that many candles."""
    rng = random.Random(seed)
    rows, slot = [], 0
    for n in range(count):
        open_price = round(price * (1 + rng.uniform(-0.004, 0.004)), 2)
        move = rng.choice([-0.03, -0.021, 0.021, 0.025]) if rng.random() < 0.15 else rng.uniform(-0.01, 0.01)
        price = round(open_price * (1 + move), 2)
        rows.append(candle(symbol, start + timedelta(minutes=minutes * slot), minutes, open_price, price))
        slot += 2 if gap_every and n % gap_every == gap_every - 1 else 1
    return rows


def insert_candles(db, candles: list[dict], per_statement: int = 1) -> None:
    """Insert candles, or rewrite those already there, `per_statement` in each INSERT ... ON CONFLICT
    statement (no candle twice in one statement), with the other columns made consistent with open
    and close."""
    rows = []
    for c in candles:
        low, high = sorted((c["open_price"], c["close_price"]))
        rows.append(
            (
                c["symbol"],
                c["window_start"],
                c["window_end"],
                c["open_price"],
                high,
                low,
                c["close_price"],
                (low + high) / 2,
                c["window_start"],
                c["window_end"] - timedelta(seconds=1),
            )
        )
    with db.cursor() as cursor:
        execute_values(
            cursor,
            "INSERT INTO stock_aggregates (symbol, window_start, window_end, open_price, high_price, low_price,"
            " close_price, avg_price, price_stddev, event_count, volume, vwap, first_event_at, last_event_at)"
            " VALUES %s"
            " ON CONFLICT (symbol, window_start, window_end) DO UPDATE SET open_price = EXCLUDED.open_price,"
            " close_price = EXCLUDED.close_price, high_price = EXCLUDED.high_price,"
            " low_price = EXCLUDED.low_price, updated_at = now()",
            rows,
            template="(%s, %s, %s, %s, %s, %s, %s, %s, NULL, 2, NULL, NULL, %s, %s)",
            page_size=per_statement,
        )
