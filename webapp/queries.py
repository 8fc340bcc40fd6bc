"""The webapp's SQL: parametrized statements returning plain dicts."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import text
from sqlalchemy.engine import Connection

AGGREGATE_FIELDS = (
    "symbol, window_start, window_end, open_price, high_price, low_price, close_price, avg_price, "
    "price_stddev, event_count, volume, vwap, first_event_at, last_event_at, updated_at"
)

LATEST_PER_SYMBOL = text(
    f"""
    SELECT DISTINCT ON (symbol) {AGGREGATE_FIELDS}
    FROM stock_aggregates
    WHERE window_end - window_start = make_interval(secs => :window_seconds)
    ORDER BY symbol, window_start DESC
    """
)

NEWEST_UPDATE = text("SELECT max(updated_at) AS newest FROM stock_aggregates")


def as_json_value(value):
    """A value as JSON shows it: timestamps as ISO 8601 in UTC."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return value


def _rows(result) -> list[dict]:
    return [{k: as_json_value(v) for k, v in row._mapping.items()} for row in result]


def latest_per_symbol(connection: Connection, window_seconds: int) -> list[dict]:
    """The newest row of the given window size for every symbol."""
    return _rows(connection.execute(LATEST_PER_SYMBOL, {"window_seconds": window_seconds}))


def newest_update(connection: Connection) -> datetime | None:
    """When the table was last written, or None when it is empty."""
    return connection.execute(NEWEST_UPDATE).scalar()
