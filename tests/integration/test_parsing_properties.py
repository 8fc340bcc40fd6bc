"""Property tests of the streaming job's message parser in a real Spark session: any bytes, any JSON,
any near-miss of a contract message -> a valid event or a rejected record with a reason, never an
exception, and every record lands on exactly one side. One Spark run checks a whole batch of values."""

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import functions as F

from common.contract import SOURCES, SYMBOL_PATTERN, message_problem
from streaming.aggregation import REJECT_COLUMNS, keyed_records
from streaming.parsing import EARLIEST_EVENT_MS, LATEST_EVENT_MS, parse_records

RECORD_SCHEMA = "topic string, partition int, offset long, key binary, value binary"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)
valid_messages = st.fixed_dictionaries(
    {
        "id": st.text(min_size=1, max_size=12),
        "symbol": st.from_regex(SYMBOL_PATTERN, fullmatch=True),
        "price": st.floats(min_value=1e-6, max_value=1e9) | st.integers(1, 10**9),
        "event_time": st.integers(EARLIEST_EVENT_MS, LATEST_EVENT_MS),
        "source": st.sampled_from(SOURCES),
        "ingested_at": st.integers(0, 2**62),
    },
    optional={"volume": st.none() | st.floats(0, 1e9) | st.integers(0, 10**9), "open": st.floats(1, 1e4)},
)
# A valid message with one field replaced by any JSON value (or dropped): the near misses.
near_misses = st.tuples(
    valid_messages,
    st.sampled_from(sorted(["id", "symbol", "price", "volume", "event_time", "source", "ingested_at", "open"])),
    json_values | st.just(...),
).map(lambda t: {k: v for k, v in {**t[0], t[1]: t[2]}.items() if v is not ...})


def encoded(value) -> bytes:
    """The JSON text of a value as a producer would send it; NaN and infinities included."""
    return json.dumps(value).encode("utf-8")


def keyed(message: dict) -> tuple[bytes | None, bytes]:
    """(key, value) as our producer sends a message: keyed by its symbol when it has a string one."""
    symbol = message.get("symbol")
    return (symbol.encode("utf-8") if isinstance(symbol, str) else None), encoded(message)


records = st.one_of(
    st.tuples(st.none() | st.binary(max_size=8), st.none() | st.binary(max_size=64)),  # any bytes
    st.tuples(st.none() | st.binary(max_size=8), json_values.map(encoded)),  # any JSON
    near_misses.map(keyed),
    valid_messages.map(keyed),
)


def is_strictly_valid(key: bytes | None, value: bytes | None) -> bool:
    """Plain Python: a contract message (DESIGN.md) keyed by its symbol, with the job's time bounds."""
    try:
        message = json.loads(value)
    except (TypeError, ValueError):
        return False
    return (
        message_problem(message) is None
        and key == message["symbol"].encode("utf-8")
        and EARLIEST_EVENT_MS <= message["event_time"] <= LATEST_EVENT_MS
        and abs(message["ingested_at"]) < 2**63
        and (message.get("volume") is None or message["volume"] >= 0)
    )


batches = st.tuples(st.lists(records, min_size=50, max_size=150), st.lists(valid_messages.map(keyed), max_size=20))
# Batches of a hundred-odd records are large for Hypothesis by design.
LARGE_OK = {"suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}


@settings(max_examples=6, **LARGE_OK)
@given(batches)
def test_any_batch_is_split_into_valid_events_and_rejects_with_reasons(spark, mixed_and_valid):
    check_batch(spark, mixed_and_valid[0] + mixed_and_valid[1])


@pytest.mark.chaos
@settings(max_examples=100, **LARGE_OK)
@given(batches)
def test_many_batches_are_split_into_valid_events_and_rejects_with_reasons(spark, mixed_and_valid):
    check_batch(spark, mixed_and_valid[0] + mixed_and_valid[1])


def check_batch(spark, batch: list[tuple[bytes | None, bytes | None]]) -> None:
    """Parse the (key, value) records in one Spark run; every one is either valid contract data or
    rejected with a reason, and no contract message is rejected."""
    rows = [("t", 0, offset, key, value) for offset, (key, value) in enumerate(batch)]
    parsed = parse_records(spark.createDataFrame(rows, RECORD_SCHEMA)).cache()
    try:
        outcome = {row["offset"]: row for row in parsed.collect()}
        keyed = keyed_records(parsed)  # the job's split, event times included (garbage must not overflow)
        valid_count = keyed.where(F.col("reason").isNull() & F.col("event_ts").isNotNull()).count()
        rejected = keyed.where(F.col("reason").isNotNull()).select(*REJECT_COLUMNS).collect()
    finally:
        parsed.unpersist()
    assert sorted(outcome) == list(range(len(batch)))  # every record, once
    assert valid_count + len(rejected) == len(batch)
    assert all(isinstance(r["reason"], str) and r["reason"] for r in rejected)
    for offset, (key, value) in enumerate(batch):
        row = outcome[offset]
        if row["reason"] is None:  # accepted: it must be contract data, and read as such
            message = json.loads(value)
            assert message_problem(message) is None, (value, message_problem(message))
            assert key == message["symbol"].encode("utf-8")
            assert row["id"] == message["id"] and row["symbol"] == message["symbol"]
            assert math.isclose(row["price"], message["price"]) and row["event_time"] == message["event_time"]
        if is_strictly_valid(key, value):  # and no contract message is turned away
            assert row["reason"] is None, (value, row["reason"])
