"""An independent, plain-Python computation of stock_aggregates from contract messages, and the
table's rows read back for comparing with it.

Written from DESIGN.md's table contract, not from the Spark code, so the two can disagree."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _at(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def reference_aggregates(messages: list[dict], window_seconds: list[int]) -> dict[tuple, dict]:
    """{(symbol, window_start, window_end): row} for every window size, after de-duplication by id."""
    unique: dict[str, dict] = {}
    for message in messages:
        unique.setdefault(message["id"], message)  # the first copy of an id counts
    rows = {}
    for seconds in window_seconds:
        size_ms = seconds * 1000
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for m in unique.values():
            start_ms = m["event_time"] - m["event_time"] % size_ms
            groups[(m["symbol"], start_ms)].append(m)
        for (symbol, start_ms), events in groups.items():
            ordered = sorted(events, key=lambda e: (e["event_time"], e["id"]))
            prices = [e["price"] for e in events]
            with_volume = [e for e in events if e.get("volume") is not None]
            volume = sum(e["volume"] for e in with_volume) if with_volume else None
            rows[(symbol, _at(start_ms), _at(start_ms + size_ms))] = {
                "open_price": ordered[0]["price"],
                "high_price": max(prices),
                "low_price": min(prices),
                "close_price": ordered[-1]["price"],
                "avg_price": math.fsum(prices) / len(prices),
                "price_stddev": statistics.stdev(prices) if len(prices) > 1 else None,
                "event_count": len(events),
                "volume": volume,
                "vwap": (math.fsum(e["price"] * e["volume"] for e in with_volume) / volume if volume else None),
                "first_event_at": _at(ordered[0]["event_time"]),
                "last_event_at": _at(ordered[-1]["event_time"]),
            }
    return rows


def assert_rows_match(actual: dict[tuple, dict], expected: dict[tuple, dict]) -> None:
    """Same windows, every column equal (floating-point results to 1e-9 relative)."""
    assert sorted(actual) == sorted(expected), "different windows"
    for key, want in expected.items():
        got = actual[key]
        for column, value in want.items():
            if isinstance(value, float) and column not in ("open_price", "close_price", "high_price", "low_price"):
                assert got[column] is not None and math.isclose(got[column], value, rel_tol=1e-9, abs_tol=1e-9), (
                    f"{key} {column}: {got[column]} != {value}"
                )
            else:
                assert got[column] == value, f"{key} {column}: {got[column]!r} != {value!r}"


def table_rows(db) -> dict[tuple, dict]:
    """stock_aggregates as {(symbol, window_start, window_end): the other columns but updated_at}."""
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT symbol, window_start, window_end, open_price, high_price, low_price, close_price, "
            "avg_price, price_stddev, event_count, volume, vwap, first_event_at, last_event_at "
            "FROM stock_aggregates"
        )
        names = [d.name for d in cursor.description]
        rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    return {(r.pop("symbol"), r.pop("window_start"), r.pop("window_end")): r for r in rows}
