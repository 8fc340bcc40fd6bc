"""The webapp's SQL: parametrized statements returning JSON text built by Postgres (row sets) or
plain values."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime

from sqlalchemy import TextClause, text
from sqlalchemy.engine import Connection

from webapp.db import execute_prepared

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

# data_version (sql/011) is one row kept by triggers: no scan of the table.
NEWEST_UPDATE = text("SELECT newest_update FROM data_version")
DATA_VERSION = text("SELECT version FROM data_version")

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


# The indicators of candle_indicators, for the candles asked for only: the triggers of sql/011 keep
# every indicator per candle in candle_indicators_state, so each candle costs one primary-key probe.
# The newest :limit candles since :since, oldest first.
def indicators_query(fields: str) -> TextClause:
    """The indicators statement, returning `fields` (INDICATOR_FIELDS, and the table's volume)."""
    return text(
        f"""
    SELECT {fields}
    FROM (
        SELECT symbol, window_start, window_end, open_price, high_price, low_price, close_price, volume
        FROM stock_aggregates
        WHERE symbol = :symbol AND {TABLE_WINDOW_SIZE} AND {SINCE}
        ORDER BY window_start DESC
        LIMIT :limit
    ) a
    JOIN candle_indicators_state i USING (symbol, window_start)
    WHERE i.window_size = a.window_end - a.window_start
    ORDER BY window_start
    """
    )


INDICATORS_FOR_SYMBOL = indicators_query(INDICATOR_FIELDS)

# The newest spikes of the view, :limit at most, oldest first. Those that moved 2 % or more are the first
# entries of the partial index of sql/008 (the first branch repeats its predicate, so that the planner
# may read it), whatever the history; a scan back through every candle until enough spikes turned up
# grew with the history. The second branch adds the smaller moves when the session's threshold is
# below 2 % (stocks.spike_threshold_pct, as the view reads it), and otherwise stops at that condition
# before reading a row.
SPIKE_CONDITION = f"{VIEW_WINDOW_SIZE} AND (CAST(:symbol AS text) IS NULL OR symbol = :symbol) AND {SINCE}"
INDEXED_SPIKE = "abs(close_price / open_price - 1) * 100 >= 2"
THRESHOLD_BELOW_INDEX = (
    "coalesce(nullif(current_setting('stocks.spike_threshold_pct', true), '')::double precision, 2) < 2"
)


def newest_spikes(condition: str) -> str:
    """The newest :limit spikes of the view that meet `condition`, read newest first."""
    return f"""(SELECT {SPIKE_FIELDS} FROM price_spikes WHERE {SPIKE_CONDITION} AND {condition}
             ORDER BY window_start DESC, symbol DESC LIMIT :limit)"""


SMALLER_SPIKES = newest_spikes(f"NOT {INDEXED_SPIKE} AND {THRESHOLD_BELOW_INDEX}")
SPIKES = newest_oldest_first(
    SPIKE_FIELDS, f"({newest_spikes(INDEXED_SPIKE)} UNION ALL {SMALLER_SPIKES}) spikes", "true"
)

# The view top_movers, for one window size, from index probes: per symbol and period its first and
# last candle through the (symbol, size, window_start) index, and how many candles lie between them
# from their candle numbers (candle_indicators_state, sql/011), instead of the view's aggregation over every candle
# of the day. The periods are the view's: windows starting after newest - 1 h, and from the newest
# window's UTC day on (a microsecond earlier, so `>` includes it).
# The last hour first, then the day so far; each ranked, biggest move first.
CANDLE_NUMBER = """SELECT candle_number FROM candle_indicators_state e
    WHERE e.symbol = a.symbol AND e.window_size = a.window_end - a.window_start AND e.window_start = a.window_start"""
TOP_MOVERS = text(
    f"""
    WITH newest AS (  -- written as a probe: inside this query the planner would not turn max() into one
        SELECT window_start AS newest_start FROM stock_aggregates ORDER BY window_start DESC LIMIT 1
    ), periods AS (
        SELECT 'hour' AS period, newest_start - interval '1 hour' AS after FROM newest
        UNION ALL
        SELECT 'day', date_trunc('day', newest_start AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '1 microsecond'
        FROM newest
    ), moves AS (
        SELECT p.period, s.symbol, first.open_price AS first_open, last.close_price AS last_close,
               last.candle_number - first.candle_number + 1 AS candles,
               first.window_start AS first_window_start, last.window_end AS last_window_end
        FROM periods p
        CROSS JOIN symbol_summary s
        CROSS JOIN LATERAL (
            SELECT open_price, window_start, ({CANDLE_NUMBER}) AS candle_number FROM stock_aggregates a
            WHERE symbol = s.symbol AND {TABLE_WINDOW_SIZE} AND window_start > p.after
            ORDER BY window_start LIMIT 1
        ) first
        CROSS JOIN LATERAL (
            SELECT close_price, window_end, ({CANDLE_NUMBER}) AS candle_number FROM stock_aggregates a
            WHERE symbol = s.symbol AND {TABLE_WINDOW_SIZE} AND window_start > p.after
            ORDER BY window_start DESC LIMIT 1
        ) last
    )
    SELECT period,
           row_number() OVER (PARTITION BY period ORDER BY abs(change_pct) DESC, symbol) AS rank,
           symbol, change_pct, first_open, last_close, candles, first_window_start, last_window_end
    FROM (SELECT *, (last_close / first_open - 1) * 100 AS change_pct FROM moves) ranked
    ORDER BY period = 'day', rank
    """
)

SYMBOLS = text("SELECT symbol, newest_window_end, updated_at FROM symbol_summary ORDER BY symbol")

# How full the candles of each size are: {name: mean events per candle} over the newest hour of
# data, for the sizes named in :size_names (of :size_seconds). Each symbol and size is one probe of
# the (symbol, size, window_start) index, whatever the history (a bound on window_start alone, from
# a subquery, had the planner choose a scan of the table).
CANDLE_EVENTS = text(
    """
    SELECT coalesce(json_object_agg(name, events::float8 / candles ORDER BY seconds), '{}')
    FROM (
        SELECT s.name, s.seconds, sum(c.candles) AS candles, sum(c.events) AS events
        FROM (SELECT max(newest_window_end) - interval '1 hour' AS after FROM symbol_summary) newest
        CROSS JOIN unnest(CAST(:size_names AS text[]), CAST(:size_seconds AS int[])) AS s(name, seconds)
        CROSS JOIN symbol_summary y
        CROSS JOIN LATERAL (
            SELECT count(*) AS candles, sum(event_count) AS events
            FROM stock_aggregates a
            WHERE a.symbol = y.symbol AND a.window_end - a.window_start = make_interval(secs => s.seconds)
              AND a.window_start > newest.after
        ) c
        GROUP BY s.name, s.seconds
    ) sizes
    WHERE candles > 0
    """
)

# The spike notice's spikes: those of the newest hour of data, so the index on window_start reads
# an hour of candles whatever the history.
RECENT_SPIKES = text(
    f"""
    SELECT * FROM (
        SELECT {SPIKE_FIELDS}
        FROM price_spikes
        WHERE {VIEW_WINDOW_SIZE}
          AND window_start > (SELECT max(newest_window_end) FROM symbol_summary) - interval '1 hour'
        ORDER BY window_start DESC, symbol DESC
        LIMIT :limit
    ) newest
    ORDER BY window_start, symbol
    """
)


# Rejected events of the last :hours, in total and by reason, most frequent first. Reasons are the
# fixed texts of streaming/parsing.py, none ending in +00:00 (see _json_rows).
QUALITY = text(
    """
    SELECT json_build_object(
        'hours', CAST(:hours AS int),
        'rejected', coalesce(sum(events), 0),
        'reasons', coalesce(json_agg(r ORDER BY events DESC, reason), '[]')
    )
    FROM (
        SELECT reason, count(*) AS events, max(seen_at) AS last_seen
        FROM rejected_events
        WHERE seen_at >= now() - make_interval(hours => CAST(:hours AS int))
        GROUP BY reason
    ) r
    """
)


def _json_array_sql(statement: TextClause) -> str:
    """SQL of the rows of `statement` as a JSON array, in its order."""
    return f"(SELECT coalesce(json_agg(r), '[]') FROM ({statement.text}) r)"


# The parts of the page's snapshot that every symbol's snapshot of a size holds, in one statement:
# a JSON object of the latest rows, the newest hour's spikes, the movers, how full the candles of
# each size are, and data quality.
SNAPSHOT_SHARED = text(
    f"""
    SELECT json_build_object(
        'latest', {_json_array_sql(LATEST_PER_SYMBOL)},
        'recent_spikes', {_json_array_sql(RECENT_SPIKES)},
        'movers', {_json_array_sql(TOP_MOVERS)},
        'candle_events', ({CANDLE_EVENTS.text}),
        'quality', ({QUALITY.text})
    )::text
    """
)

# The page's chart in one statement: a JSON object of the newest :limit candles, oldest first, with
# their volume and indicators, and their spikes.
CHART_SPIKES = text(
    f"""
    SELECT {SPIKE_FIELDS} FROM price_spikes
    WHERE symbol = :symbol AND {VIEW_WINDOW_SIZE} AND window_start >= (SELECT min(window_start) FROM candles)
    ORDER BY window_start
    """
)
CHART = text(
    f"""
    WITH candles AS MATERIALIZED (
        {indicators_query(INDICATOR_FIELDS.replace("close_price,", "close_price, volume,")).text}
    )
    SELECT json_build_object(
        'candles', (SELECT coalesce(json_agg(c ORDER BY c.window_start), '[]') FROM candles c),
        'spikes', {_json_array_sql(CHART_SPIKES)}
    )::text
    """
)


class JsonText(str):
    """JSON text ready to send, built by Postgres."""


def json_object(**members) -> JsonText:
    """A JSON object of `members`, JsonText members kept as they are, others serialized."""
    return JsonText(
        "{"
        + ", ".join(
            f"{json.dumps(name)}: {value if isinstance(value, JsonText) else json.dumps(value)}"
            for name, value in members.items()
        )
        + "}"
    )


def merge_objects(*objects: JsonText) -> JsonText:
    """One JSON object of the members of JSON object texts with distinct member names."""
    inner = [text.strip()[1:-1].strip() for text in objects]
    return JsonText("{" + ", ".join(members for members in inner if members) + "}")


def as_json_value(value):
    """A value as JSON shows it: timestamps as ISO 8601 in UTC."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


@functools.cache
def _as_json_array(statement: TextClause) -> TextClause:
    return text(f"SELECT coalesce(json_agg(r), '[]')::text FROM ({statement.text}) r")


@functools.cache
def _as_text(statement: TextClause) -> TextClause:
    """A statement of one JSON value, returning it as text (psycopg2 would parse JSON)."""
    return text(f"SELECT ({statement.text})::text")


def _json_rows(connection: Connection, statement: TextClause, params: dict | None = None) -> JsonText:
    """The rows of `statement` as a JSON array of objects, in its order, built by Postgres: converting
    each value in Python cost more than the query did (200 candles: 6 ms of 15).
    The session's time zone is UTC (webapp.db), so Postgres writes each timestamp with +00:00, which
    becomes the Z that as_json_value writes. The row sets' only text columns are symbols (no + or "),
    period names and reject reasons (fixed texts), so the replacement touches timestamps only."""
    return _json_text(connection, _as_json_array(statement), params)


def _json_text(
    connection: Connection, statement: TextClause, params: dict | None = None, prepared_as: str | None = None
) -> JsonText:
    """The JSON text `statement` builds (see _json_rows for its timestamps); with `prepared_as`, run as
    the prepared statement of that name (webapp.db.execute_prepared)."""
    params = params or {}
    if prepared_as:
        result = execute_prepared(connection, prepared_as, statement, params)
    else:
        result = connection.execute(statement, params)
    return JsonText(result.scalar_one().replace('+00:00"', 'Z"'))


def latest_per_symbol(connection: Connection, window_seconds: int) -> JsonText:
    """The newest row of the given window size for every symbol."""
    return _json_rows(connection, LATEST_PER_SYMBOL, {"window_seconds": window_seconds})


def newest_update(connection: Connection) -> datetime | None:
    """When the table was last written, or None when it is empty."""
    return connection.execute(NEWEST_UPDATE).scalar()


def data_version(connection: Connection) -> int:
    """A number that changes in every transaction that writes the aggregates or the rejects."""
    return connection.execute(DATA_VERSION).scalar_one()


def _series(statement: TextClause, connection: Connection, symbol, window_seconds: int, limit: int, since) -> JsonText:
    params = {"symbol": symbol, "window_seconds": window_seconds, "limit": limit, "since": since}
    return _json_rows(connection, statement, params)


def aggregates_for_symbol(connection: Connection, symbol: str, window_seconds: int, limit: int, since) -> JsonText:
    """Rows of one symbol and window size, oldest first."""
    return _series(AGGREGATES_FOR_SYMBOL, connection, symbol, window_seconds, limit, since)


def symbols(connection: Connection) -> JsonText:
    """Symbols with data and their newest window."""
    return _json_rows(connection, SYMBOLS)


def quality(connection: Connection, hours: int) -> JsonText:
    """{"hours", "rejected", "reasons"}: rejected events of the last `hours`, in total and by reason."""
    return _json_text(connection, _as_text(QUALITY), {"hours": hours})


def indicators_for_symbol(connection: Connection, symbol: str, window_seconds: int, limit: int, since) -> JsonText:
    """SMA, EMA and Bollinger bands per candle of one symbol and window size, oldest first."""
    return _series(INDICATORS_FOR_SYMBOL, connection, symbol, window_seconds, limit, since)


def snapshot_shared(
    connection: Connection, window_seconds: int, spikes_limit: int, quality_hours: int, sizes: dict[str, int]
) -> JsonText:
    """{"latest", "recent_spikes", "movers", "candle_events", "quality"}: the latest rows, spikes (at
    most `spikes_limit`) and movers of one window size, the mean events per candle of each of `sizes`
    ({name: seconds}) over the newest hour, and the rejects of the last `quality_hours`."""
    params = {
        "window_seconds": window_seconds,
        "limit": spikes_limit,
        "hours": quality_hours,
        "size_names": list(sizes),
        "size_seconds": list(sizes.values()),
    }
    return _json_text(connection, SNAPSHOT_SHARED, params, prepared_as="snapshot_shared")


def chart(connection: Connection, symbol: str, window_seconds: int, limit: int) -> JsonText:
    """{"candles", "spikes"}: one symbol's newest `limit` candles of one size, oldest first, with their
    volume and indicators, and the spikes among them."""
    params = {"symbol": symbol, "window_seconds": window_seconds, "limit": limit, "since": None}
    return _json_text(connection, CHART, params, prepared_as="snapshot_chart")


def spikes(connection: Connection, symbol: str | None, window_seconds: int, limit: int, since) -> JsonText:
    """Candles that moved at least the spike threshold from their open, oldest first (any symbol: None)."""
    return _series(SPIKES, connection, symbol, window_seconds, limit, since)


def top_movers(connection: Connection, window_seconds: int) -> JsonText:
    """Symbols ranked by their move over the last hour and the day so far, for one window size."""
    return _json_rows(connection, TOP_MOVERS, {"window_seconds": window_seconds})
