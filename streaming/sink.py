"""Writing micro-batches to Postgres: COPY into a temporary table, then one upsert, in one transaction."""

from __future__ import annotations

import csv
import io
import logging

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
UPSERT_AGGREGATES = f"""
INSERT INTO stock_aggregates ({", ".join(AGGREGATE_COLUMNS)}, updated_at)
SELECT {_AGGREGATE_VALUES}, now() FROM aggregates_batch
ON CONFLICT ({", ".join(_KEY)}) DO UPDATE SET
{", ".join(f"{c} = EXCLUDED.{c}" for c in AGGREGATE_COLUMNS if c not in _KEY)}, updated_at = now()
"""
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


class PostgresSink:
    """One connection reused across batches, reopened after it breaks."""

    def __init__(self, database_url: str):
        self._dsn = libpq_url(database_url)
        self._connection = None

    def _connect(self):
        if self._connection is None or self._connection.closed:
            self._connection = psycopg2.connect(self._dsn, application_name="stock-streaming")
            with self._connection, self._connection.cursor() as cursor:
                cursor.execute(CREATE_AGGREGATES_STAGING)
                cursor.execute(CREATE_REJECTS_STAGING)
        return self._connection

    def write(self, staging: str, columns, rows, statement: str) -> int:
        """COPY `rows` into `staging` and run `statement` in one transaction; rows affected."""
        connection = self._connect()
        try:
            with connection, connection.cursor() as cursor:
                cursor.copy_expert(
                    f"COPY {staging} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)",
                    rows_as_csv(rows),
                )
                cursor.execute(statement)
                return cursor.rowcount
        except psycopg2.OperationalError:
            connection.close()
            raise

    def upsert_aggregates(self, batch: DataFrame) -> int:
        """Upsert the current value of every window in the batch."""
        columns = [f"{c}_ms" if c in TIMESTAMP_COLUMNS else c for c in AGGREGATE_COLUMNS]
        rows = batch.select(
            *[F.unix_millis(c).alias(f"{c}_ms") if c in TIMESTAMP_COLUMNS else c for c in AGGREGATE_COLUMNS]
        ).collect()
        if not rows:
            return 0
        return self.write("aggregates_batch", columns, rows, UPSERT_AGGREGATES)

    def insert_rejects(self, batch: DataFrame) -> int:
        """Record rejected Kafka records once each."""
        rows = batch.select(*REJECT_COLUMNS).collect()
        if not rows:
            return 0
        return self.write("rejects_batch", REJECT_COLUMNS, rows, INSERT_REJECTS)

    def close(self) -> None:
        """Close the connection."""
        if self._connection is not None:
            self._connection.close()
