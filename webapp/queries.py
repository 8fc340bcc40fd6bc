"""The webapp's SQL: parametrized statements returning plain dicts."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import TextClause, text
from sqlalchemy.engine import Connection

AGGREGATE_FIELDS = (
    "symbol, window_start, window_end, open_price, high_price, low_price, close_price, avg_price, "
    "price_stddev, event_count, volume, vwap, first_event_at, last_event_at, updated_at"
)

# Postgres has no skip scan: DISTINCT ON (symbol) would read every row of the size (a million-row
# table took seconds under load). Instead walk the distinct symbols through the primary key, one
# index probe each, then take each symbol's newest row of the size from the (symbol, size, start)
# index: a few dozen index probes whatever the table's size.
LATEST_PER_SYMBOL = text(
    f"""
    WITH RECURSIVE symbols AS (
        (SELECT symbol FROM stock_aggregates ORDER BY symbol LIMIT 1)
        UNION ALL
        SELECT (SELECT s.symbol FROM stock_aggregates s WHERE s.symbol > symbols.symbol ORDER BY s.symbol LIMIT 1)
        FROM symbols
        WHERE symbols.symbol IS NOT NULL
    )
    SELECT newest.*
    FROM symbols
    CROSS JOIN LATERAL (
        SELECT {AGGREGATE_FIELDS}
        FROM stock_aggregates
        WHERE symbol = symbols.symbol AND window_end - window_start = make_interval(secs => :window_seconds)
        ORDER BY window_start DESC
        LIMIT 1
    ) newest
    ORDER BY newest.symbol
    """
)

NEWEST_UPDATE = text("SELECT max(updated_at) AS newest FROM stock_aggregates")

INDICATOR_FIELDS = (
    "symbol, window_start, window_end, open_price, high_price, low_price, close_price, candle_number, "
    "sma_5, sma_20, ema_5, ema_20, bollinger_upper, bollinger_lower"
)

SPIKE_FIELDS = "symbol, window_start, window_end, open_price, high_price, low_price, close_price, change_pct"

TABLE_WINDOW_SIZE = "window_end - window_start = make_interval(secs => :window_seconds)"
# The views' window_size column: a filter on it reaches below their window functions, one on
# window_end - window_start would not.
VIEW_WINDOW_SIZE = "window_size = make_interval(secs => :window_seconds)"
SINCE = "(CAST(:since AS timestamptz) IS NULL OR window_start >= CAST(:since AS timestamptz))"


def newest_oldest_first(fields: str, relation: str, condition: str) -> TextClause:
    """The newest :limit rows of `relation` that meet `condition` and :since, returned oldest first."""
    return text(
        f"""
        SELECT * FROM (
            SELECT {fields}
            FROM {relation}
            WHERE {condition} AND {SINCE}
            ORDER BY window_start DESC, symbol DESC
            LIMIT :limit
        ) newest
        ORDER BY window_start, symbol
        """
    )


AGGREGATES_FOR_SYMBOL = newest_oldest_first(
    AGGREGATE_FIELDS, "stock_aggregates", f"symbol = :symbol AND {TABLE_WINDOW_SIZE}"
)

# The view's since filter stays above its window functions, so the EMA still starts at the first candle.
INDICATORS_FOR_SYMBOL = newest_oldest_first(
    INDICATOR_FIELDS, "candle_indicators", f"symbol = :symbol AND {VIEW_WINDOW_SIZE}"
)

SPIKES = newest_oldest_first(
    SPIKE_FIELDS, "price_spikes", f"{VIEW_WINDOW_SIZE} AND (CAST(:symbol AS text) IS NULL OR symbol = :symbol)"
)

# The last hour first, then the day so far; each ranked, biggest move first.
TOP_MOVERS = text(
    f"""
    SELECT period, rank, symbol, change_pct, first_open, last_close, candles, first_window_start, last_window_end
    FROM top_movers
    WHERE {VIEW_WINDOW_SIZE}
    ORDER BY period = 'day', rank
    """
)

SYMBOLS = text(
    """
    SELECT symbol, max(window_end) AS newest_window_end, max(updated_at) AS updated_at
    FROM stock_aggregates
    GROUP BY symbol
    ORDER BY symbol
    """
)

REJECTS_BY_REASON = text(
    """
    SELECT reason, count(*) AS events, max(seen_at) AS last_seen
    FROM rejected_events
    WHERE seen_at >= now() - make_interval(hours => :hours)
    GROUP BY reason
    ORDER BY events DESC, reason
    """
)


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


def _series(statement: TextClause, connection: Connection, symbol, window_seconds: int, limit: int, since) -> list[dict]:
    params = {"symbol": symbol, "window_seconds": window_seconds, "limit": limit, "since": since}
    return _rows(connection.execute(statement, params))


def aggregates_for_symbol(connection: Connection, symbol: str, window_seconds: int, limit: int, since) -> list[dict]:
    """Rows of one symbol and window size, oldest first."""
    return _series(AGGREGATES_FOR_SYMBOL, connection, symbol, window_seconds, limit, since)


def symbols(connection: Connection) -> list[dict]:
    """Symbols with data and their newest window."""
    return _rows(connection.execute(SYMBOLS))


def rejects_by_reason(connection: Connection, hours: int) -> list[dict]:
    """Rejected events of the last `hours`, counted by reason."""
    return _rows(connection.execute(REJECTS_BY_REASON, {"hours": hours}))


def indicators_for_symbol(connection: Connection, symbol: str, window_seconds: int, limit: int, since) -> list[dict]:
    """SMA, EMA and Bollinger bands per candle of one symbol and window size, oldest first."""
    return _series(INDICATORS_FOR_SYMBOL, connection, symbol, window_seconds, limit, since)


def spikes(connection: Connection, symbol: str | None, window_seconds: int, limit: int, since) -> list[dict]:
    """Candles that moved at least the spike threshold from their open, oldest first (any symbol: None)."""
    return _series(SPIKES, connection, symbol, window_seconds, limit, since)


def top_movers(connection: Connection, window_seconds: int) -> list[dict]:
    """Symbols ranked by their move over the last hour and the day so far, for one window size."""
    return _rows(connection.execute(TOP_MOVERS, {"window_seconds": window_seconds}))
