"""The alternatives a user might write instead of Spark: plain Python consumers (kafka-python) that
upsert into the same table, per event or once per polled batch."""

from __future__ import annotations

import json
import time

import psycopg2
from kafka import KafkaConsumer, TopicPartition
from psycopg2.extras import execute_values

from bench.window_state import WindowBook
from common.contract import message_problem
from common.settings import libpq_url
from streaming.aggregation import AGGREGATE_COLUMNS
from streaming.sink import REPLACE_EXISTING_WINDOW

# The job's own upsert, from a VALUES list instead of its staging table: both write identical rows.
UPSERT = f"INSERT INTO stock_aggregates ({', '.join(AGGREGATE_COLUMNS)}, updated_at) VALUES %s{REPLACE_EXISTING_WINDOW}"
ROW_TEMPLATE = "(" + ", ".join(["%s"] * len(AGGREGATE_COLUMNS)) + ", now())"


def _records(bootstrap_servers: str, topic: str, limit: int | None, poll_records: int):
    """Batches of decoded valid messages from the start of the topic to its end (or `limit`)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 2**20,
        fetch_max_bytes=32 * 2**20,
    )
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        taken = 0
        while any(consumer.position(p) < end[p] for p in partitions) and (limit is None or taken < limit):
            batch = []
            for records in consumer.poll(timeout_ms=1000, max_records=poll_records).values():
                for record in records:
                    message = json.loads(record.value)
                    if message_problem(message) is None:  # a baseline must not crash on garbage either
                        batch.append(message)
            if limit is not None:
                batch = batch[: limit - taken]
            taken += len(batch)
            yield batch
    finally:
        consumer.close()


def run_per_event(bootstrap_servers: str, topic: str, database_url: str, window_seconds, limit=None) -> dict:
    """Each event: update its windows in memory and upsert each window's row, one statement and
    one commit at a time (what many tutorials do)."""
    started = time.monotonic()
    book = WindowBook(window_seconds)
    consumed: list[dict] = []
    connection = psycopg2.connect(libpq_url(database_url))
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            for batch in _records(bootstrap_servers, topic, limit, poll_records=500):
                for event in batch:
                    consumed.append(event)
                    for row in book.rows(book.add(event)):
                        execute_values(cursor, UPSERT, [row], template=ROW_TEMPLATE)
    finally:
        connection.close()
    return {**_result(len(consumed), time.monotonic() - started), "messages": consumed}


def run_batched(bootstrap_servers: str, topic: str, database_url: str, window_seconds, poll_records=50_000) -> dict:
    """Each polled batch: aggregate in memory, then upsert every changed window in one statement."""
    started = time.monotonic()
    book = WindowBook(window_seconds)
    events = 0
    connection = psycopg2.connect(libpq_url(database_url))
    try:
        for batch in _records(bootstrap_servers, topic, None, poll_records):
            changed = dict.fromkeys(key for event in batch for key in book.add(event))
            events += len(batch)
            with connection, connection.cursor() as cursor:
                execute_values(cursor, UPSERT, book.rows(changed), template=ROW_TEMPLATE, page_size=5000)
    finally:
        connection.close()
    return _result(events, time.monotonic() - started)


def _result(events: int, seconds: float) -> dict:
    return {"events": events, "seconds": seconds, "events_per_second": events / seconds}
