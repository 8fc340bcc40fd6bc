"""Writing micro-batches to Postgres: COPY into a temporary table, then one upsert, in one transaction."""

from __future__ import annotations

import csv
import io
import logging
import time
from dataclasses import dataclass

import psycopg2
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from common.settings import libpq_url
from streaming.aggregation import AGGREGATE_COLUMNS

log = logging.getLogger(__name__)

TIMESTAMP_COLUMNS = ("window_start", "window_end", "first_event_at", "last_event_at")
REJECT_COLUMNS = ("topic", "partition", "kafka_offset", "raw_value", "reason")


def _staging_column(name: str) -> str:
    if name in TIMESTAMP_COLUMNS:
        return f"{name}_ms bigint"
    return f"{name} " + {"symbol": "text", "event_count": "bigint"}.get(name, "double precision")


# Timestamps travel as epoch milliseconds, so no time zone is involved on the way.
_AGGREGATE_VALUES = ", ".join(
    f"timestamptz 'epoch' + {c}_ms * interval '1 millisecond'" if c in TIMESTAMP_COLUMNS else c
    for c in AGGREGATE_COLUMNS
)
_KEY = ("symbol", "window_start", "window_end")
# A window already in the table takes the new value: the current value of a window replaces the old.
REPLACE_EXISTING_WINDOW = f"""
ON CONFLICT ({", ".join(_KEY)}) DO UPDATE SET
{", ".join(f"{c} = EXCLUDED.{c}" for c in AGGREGATE_COLUMNS if c not in _KEY)}, updated_at = now()
"""
UPSERT_AGGREGATES = f"""
INSERT INTO stock_aggregates ({", ".join(AGGREGATE_COLUMNS)}, updated_at)
SELECT {_AGGREGATE_VALUES}, now() FROM aggregates_batch{REPLACE_EXISTING_WINDOW}"""
CREATE_AGGREGATES_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS aggregates_batch ("
    + ", ".join(_staging_column(c) for c in AGGREGATE_COLUMNS)
    + ") ON COMMIT DELETE ROWS"
)
CREATE_REJECTS_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS rejects_batch (topic text, partition integer, "
    "kafka_offset bigint, raw_value text, reason text) ON COMMIT DELETE ROWS"
)
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


class PostgresSink:
    """Writes micro-batches, each in one transaction recorded in streaming_batches."""

    def __init__(self, database_url: str, sleep=time.sleep):
        self._dsn = libpq_url(database_url)
        self._connection = None
        self._sleep = sleep

    def _connect(self):
        if self._connection is None or self._connection.closed:
            self._connection = psycopg2.connect(self._dsn, application_name="stock-streaming", connect_timeout=5)
            with self._connection, self._connection.cursor() as cursor:
                cursor.execute(CREATE_AGGREGATES_STAGING)
                cursor.execute(CREATE_REJECTS_STAGING)
        return self._connection

    def write(self, batch: Batch, staging: str, columns, rows, statement: str) -> int:
        """COPY `rows` into `staging` and run `statement`, once per batch, retrying transient errors.
        An empty batch (most of the rejects query's, and watermark-only ones) needs no transaction:
        replaying it changes nothing."""
        if not rows:
            return 0
        tries = len(RETRY_DELAYS) + 1
        for attempt in range(1, tries + 1):
            try:
                return self._write_once(batch, staging, columns, rows, statement)
            except TRANSIENT_ERRORS as exc:
                self.close()
                if attempt == tries:
                    raise SinkError(f"Postgres unreachable after {tries} tries: {_first_line(exc)}") from None
                delay = RETRY_DELAYS[attempt - 1]
                log.warning("%s batch %d: Postgres write failed (%s); retrying in %.0f s",
                            batch.query_name, batch.batch_id, _first_line(exc), delay)
                self._sleep(delay)
            except psycopg2.Error as exc:
                self.close()
                raise SinkError(f"Postgres refused the batch: {_first_line(exc)}") from None

    def _write_once(self, batch: Batch, staging: str, columns, rows, statement: str) -> int:
        connection = self._connect()
        with connection, connection.cursor() as cursor:
            cursor.execute(RECORD_BATCH, (batch.query_id, batch.query_name, batch.batch_id))
            if cursor.rowcount == 0:
                log.info("%s batch %d was written before (a replay after a restart); skipped",
                         batch.query_name, batch.batch_id)
                return 0
            cursor.copy_expert(
                f"COPY {staging} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", rows_as_csv(rows)
            )
            cursor.execute(statement)
            written = cursor.rowcount
            cursor.execute(COUNT_BATCH_ROWS, (written, batch.query_id, batch.batch_id))
            return written

    def upsert_aggregates(self, batch: Batch, frame: DataFrame) -> int:
        """Upsert the current value of every window in the batch."""
        columns = [f"{c}_ms" if c in TIMESTAMP_COLUMNS else c for c in AGGREGATE_COLUMNS]
        rows = frame.select(
            *[F.unix_millis(c).alias(f"{c}_ms") if c in TIMESTAMP_COLUMNS else c for c in AGGREGATE_COLUMNS]
        ).collect()
        return self.write(batch, "aggregates_batch", columns, rows, UPSERT_AGGREGATES)

    def insert_rejects(self, batch: Batch, frame: DataFrame) -> int:
        """Record rejected Kafka records once each."""
        rows = frame.select(*REJECT_COLUMNS).collect()
        return self.write(batch, "rejects_batch", REJECT_COLUMNS, rows, INSERT_REJECTS)

    def close(self) -> None:
        """Close the connection."""
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None
