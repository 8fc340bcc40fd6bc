"""Writing micro-batches to Postgres: each batch's partial aggregates are folded into its windows, and its
rejects recorded, in one transaction recorded in the batch ledger (streaming_batches)."""

from __future__ import annotations

import csv
import io
import logging
import time
from dataclasses import dataclass

import psycopg2
from psycopg2.extensions import connection as PgConnection

from common.settings import libpq_url
from streaming.aggregation import AGGREGATE_COLUMNS, PARTIAL_COLUMNS, REJECT_COLUMNS

log = logging.getLogger(__name__)


def _epoch_ms(column: str) -> str:
    return f"timestamptz 'epoch' + {column} * interval '1 millisecond'"


_STAGING_TYPES = {"symbol": "text", "open_id": "text", "close_id": "text", "event_count": "bigint"}
CREATE_PARTIALS_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS partials_batch ("
    + ", ".join(
        f"{c} " + ("bigint" if c.endswith("_ms") else _STAGING_TYPES.get(c, "double precision"))
        for c in PARTIAL_COLUMNS
    )
    + ") ON COMMIT DELETE ROWS"
)
CREATE_REJECTS_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS rejects_batch (topic text, partition integer, "
    "kafka_offset bigint, raw_value text, reason text) ON COMMIT DELETE ROWS"
)

_STATE_COLUMNS = PARTIAL_COLUMNS[3:]
_KEY = ("symbol", "window_start", "window_end")
# A window already in the table takes the new value: the current value of a window replaces the old.
REPLACE_EXISTING_WINDOW = f"""
ON CONFLICT ({", ".join(_KEY)}) DO UPDATE SET
{", ".join(f"{c} = EXCLUDED.{c}" for c in AGGREGATE_COLUMNS if c not in _KEY)}, updated_at = now()
"""
# Fold each partial into its window's state (a new window takes the partial as it is), then write the
# windows' values from their state. Open and close: the earliest and latest (time, id), ids compared
# byte by byte as Spark and the reference compare them; the sample variance's sum of squared
# deviations merges with the two means (Chan et al.), which keeps its digits when prices are close.
MERGE_PARTIALS = f"""
WITH merged AS (
    INSERT INTO stock_window_state AS s (query_id, {", ".join(_KEY)}, {", ".join(_STATE_COLUMNS)})
    SELECT %(query_id)s, symbol, {_epoch_ms("window_start_ms")}, {_epoch_ms("window_end_ms")},
           {", ".join(_STATE_COLUMNS)}
    FROM partials_batch
    ON CONFLICT (query_id, {", ".join(_KEY)}) DO UPDATE SET
        (open_ms, open_id, open_price) = (
            SELECT * FROM (VALUES (s.open_ms, s.open_id, s.open_price),
                                  (EXCLUDED.open_ms, EXCLUDED.open_id, EXCLUDED.open_price)) o (ms, id, price)
            ORDER BY o.ms, o.id COLLATE "C" LIMIT 1),
        (close_ms, close_id, close_price) = (
            SELECT * FROM (VALUES (s.close_ms, s.close_id, s.close_price),
                                  (EXCLUDED.close_ms, EXCLUDED.close_id, EXCLUDED.close_price)) c (ms, id, price)
            ORDER BY c.ms DESC, c.id COLLATE "C" DESC LIMIT 1),
        high_price = greatest(s.high_price, EXCLUDED.high_price),
        low_price = least(s.low_price, EXCLUDED.low_price),
        event_count = s.event_count + EXCLUDED.event_count,
        price_sum = s.price_sum + EXCLUDED.price_sum,
        price_m2 = s.price_m2 + EXCLUDED.price_m2
            + (EXCLUDED.price_sum / EXCLUDED.event_count - s.price_sum / s.event_count) ^ 2
              * s.event_count::double precision * EXCLUDED.event_count / (s.event_count + EXCLUDED.event_count),
        volume = CASE WHEN s.volume IS NOT NULL OR EXCLUDED.volume IS NOT NULL
                      THEN coalesce(s.volume, 0) + coalesce(EXCLUDED.volume, 0) END,
        price_volume_sum = CASE WHEN s.price_volume_sum IS NOT NULL OR EXCLUDED.price_volume_sum IS NOT NULL
                                THEN coalesce(s.price_volume_sum, 0) + coalesce(EXCLUDED.price_volume_sum, 0) END
    RETURNING s.*
)
INSERT INTO stock_aggregates ({", ".join(AGGREGATE_COLUMNS)}, updated_at)
SELECT symbol, window_start, window_end, open_price, high_price, low_price, close_price,
       price_sum / event_count,
       CASE WHEN event_count > 1 THEN sqrt(greatest(price_m2, 0) / (event_count - 1)) END,
       event_count, volume,
       CASE WHEN volume <> 0 THEN price_volume_sum / volume END,
       {_epoch_ms("open_ms")}, {_epoch_ms("close_ms")}, now()
FROM merged
{REPLACE_EXISTING_WINDOW}"""
# A window that ended by the batch's watermark takes no more events: Spark judges the next batch's late
# events by that watermark (the previous batch's, since Spark 3.4), and watermarks never go back.
DELETE_CLOSED_STATE = f"""
DELETE FROM stock_window_state WHERE query_id = %s AND window_end <= {_epoch_ms("%s")}
"""
# Each job holds a session lock on its query id from its first write on each connection. Another query's
# state is an earlier checkpoint's, left behind, once no job holds that query's lock and its newest batch
# is older than a while (a job that lost its connection retries for ~30 s, then exits).
QUERY_LOCK = "hashtext('stock_window_state'), hashtext({query_id})"
LOCK_QUERY = f"SELECT pg_try_advisory_lock({QUERY_LOCK.format(query_id='%s')})"
DELETE_ABANDONED_STATE = f"""
DELETE FROM stock_window_state s
USING (
    SELECT q.query_id
    FROM (SELECT DISTINCT query_id FROM stock_window_state WHERE query_id <> %(query_id)s) q
    WHERE coalesce((SELECT b.committed_at FROM streaming_batches b WHERE b.query_id = q.query_id
                    ORDER BY b.batch_id DESC LIMIT 1), '-infinity') < now() - %(quiet)s * interval '1 second'
    OFFSET 0  -- the lock is tried last, only for quiet queries
) quiet
WHERE s.query_id = quiet.query_id AND pg_try_advisory_xact_lock({QUERY_LOCK.format(query_id="quiet.query_id")})
"""
ABANDONED_AFTER_SECONDS = 600
CLEANUP_EVERY_SECONDS = 600
INSERT_REJECTS = f"""
INSERT INTO rejected_events ({", ".join(REJECT_COLUMNS)})
SELECT {", ".join(REJECT_COLUMNS)} FROM rejects_batch
ON CONFLICT (topic, partition, kafka_offset) DO NOTHING
"""


def rows_as_csv(rows) -> io.StringIO:
    """Rows as CSV for COPY: None becomes an empty unquoted field (NULL), floats keep every digit."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in row])
    buffer.seek(0)
    return buffer


RECORD_BATCH = """
INSERT INTO streaming_batches (query_id, query_name, batch_id, rows_written) VALUES (%s, %s, %s, 0)
ON CONFLICT (query_id, batch_id) DO NOTHING
"""
COUNT_BATCH_ROWS = "UPDATE streaming_batches SET rows_written = %s WHERE query_id = %s AND batch_id = %s"

# Waits between tries when Postgres is unreachable (restarting, failing over): about 30 s in all.
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0)
TRANSIENT_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class SinkError(RuntimeError):
    """A batch could not be written; the query stops and resumes from its checkpoint on restart."""


@dataclass(frozen=True)
class Batch:
    """Which micro-batch of which query is being written."""

    query_id: str
    query_name: str
    batch_id: int


@dataclass(frozen=True)
class BatchRows:
    """What one micro-batch writes: partial aggregates (PARTIAL_COLUMNS) and rejects (REJECT_COLUMNS)."""

    partials: list
    rejects: list
    closed_before_ms: int | None = None  # windows ending by then are closed: their state is deleted

    @classmethod
    def from_window_partials(cls, rows, closed_before_ms: int | None) -> BatchRows:
        """Split collected window_partials rows; windows ending by `closed_before_ms` (the batch's
        watermark) take no more events."""
        partials = [tuple(r[c] for c in PARTIAL_COLUMNS) for r in rows if r["reason"] is None]
        rejects = [tuple(r[c] for c in REJECT_COLUMNS) for r in rows if r["reason"] is not None]
        return cls(partials, rejects, closed_before_ms)


class PostgresSink:
    """Writes micro-batches, each in one transaction recorded in streaming_batches."""

    def __init__(self, database_url: str, sleep=time.sleep, clock=time.monotonic):
        self._dsn = libpq_url(database_url)
        self._connection: PgConnection | None = None
        self._sleep = sleep
        self._clock = clock
        self._locked: str | None = None  # the query id whose lock this connection holds
        self._cleaned_at: float | None = None  # when abandoned state was last looked for, on this connection

    def _connect(self) -> PgConnection:
        if self._connection is None or self._connection.closed:
            connection = psycopg2.connect(self._dsn, application_name="stock-streaming", connect_timeout=5)
            with connection, connection.cursor() as cursor:
                cursor.execute(CREATE_PARTIALS_STAGING)
                cursor.execute(CREATE_REJECTS_STAGING)
            self._connection, self._locked, self._cleaned_at = connection, None, None
        return self._connection

    def write(self, batch: Batch, rows: BatchRows) -> int:
        """Write one batch once, retrying transient errors; the rows written (windows and rejects).
        A batch without rows (its events were all copies or late) only deletes the state of the windows
        its watermark closed: it is not in the ledger, and replaying it changes nothing."""
        if not (rows.partials or rows.rejects or rows.closed_before_ms is not None):
            return 0
        tries, attempt = len(RETRY_DELAYS) + 1, 0
        while True:
            attempt += 1
            try:
                return self._write_once(batch, rows)
            except TRANSIENT_ERRORS as exc:
                self.close()
                if attempt == tries:
                    raise SinkError(f"Postgres unreachable after {tries} tries: {_first_line(exc)}") from None
                delay = RETRY_DELAYS[attempt - 1]
                log.warning(
                    "%s batch %d: Postgres write failed (%s); retrying in %.0f s",
                    batch.query_name,
                    batch.batch_id,
                    _first_line(exc),
                    delay,
                )
                self._sleep(delay)
            except psycopg2.Error as exc:
                self.close()
                raise SinkError(f"Postgres refused the batch: {_first_line(exc)}") from None

    def _write_once(self, batch: Batch, rows: BatchRows) -> int:
        connection = self._connect()
        with connection, connection.cursor() as cursor:
            self._hold_query_lock(cursor, batch.query_id)
            if not (rows.partials or rows.rejects):
                cursor.execute(DELETE_CLOSED_STATE, (batch.query_id, rows.closed_before_ms))
                return 0
            cursor.execute(RECORD_BATCH, (batch.query_id, batch.query_name, batch.batch_id))
            if cursor.rowcount == 0:
                log.info(
                    "%s batch %d was written before (a replay after a restart); skipped",
                    batch.query_name,
                    batch.batch_id,
                )
                return 0
            if self._locked == batch.query_id and (
                self._cleaned_at is None or self._clock() - self._cleaned_at >= CLEANUP_EVERY_SECONDS
            ):
                self._delete_abandoned_state(cursor, batch.query_id)
            written = 0
            if rows.partials:
                cursor.copy_expert(
                    f"COPY partials_batch ({', '.join(PARTIAL_COLUMNS)}) FROM STDIN WITH (FORMAT csv)",
                    rows_as_csv(rows.partials),
                )
                cursor.execute(MERGE_PARTIALS, {"query_id": batch.query_id})
                written += cursor.rowcount
            if rows.rejects:
                cursor.copy_expert(
                    f"COPY rejects_batch ({', '.join(REJECT_COLUMNS)}) FROM STDIN WITH (FORMAT csv)",
                    rows_as_csv(rows.rejects),
                )
                cursor.execute(INSERT_REJECTS)
                written += cursor.rowcount
            if rows.closed_before_ms is not None:
                cursor.execute(DELETE_CLOSED_STATE, (batch.query_id, rows.closed_before_ms))
            cursor.execute(COUNT_BATCH_ROWS, (written, batch.query_id, batch.batch_id))
            return written

    def _hold_query_lock(self, cursor, query_id: str) -> None:
        """Take this query's lock for the connection (a session lock: it outlives the transaction), so no
        other job deletes its windows' state; tried again at the next batch while another session has it."""
        if self._locked != query_id:
            cursor.execute(LOCK_QUERY, (query_id,))
            if cursor.fetchone()[0]:
                self._locked = query_id
            else:
                log.warning("query %s: its lock is held by another session (another job on this checkpoint?)", query_id)

    def _delete_abandoned_state(self, cursor, query_id: str) -> None:
        """Delete the window state that earlier checkpoints left behind."""
        cursor.execute(DELETE_ABANDONED_STATE, {"query_id": query_id, "quiet": ABANDONED_AFTER_SECONDS})
        if cursor.rowcount:
            log.info("deleted the window state of earlier checkpoints (%d windows)", cursor.rowcount)
        self._cleaned_at = self._clock()

    def close(self) -> None:
        """Close the connection."""
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None
