"""The job's transforms on static DataFrames in a real local Spark session, against the
independent plain-Python reference."""

import json
import random

import pytest
from pyspark.sql import functions as F

from reference.aggregates import assert_rows_match, reference_aggregates, table_rows
from streaming.aggregation import REJECT_COLUMNS, WindowPartials, deduplicate, keyed_records
from streaming.parsing import parse_records
from streaming.sink import Batch, BatchRows, PostgresSink

MINUTE = 60_000
BASE = 1_763_000_040_000  # a whole minute


def symbol_key(value):
    """The key a well-behaved producer gives a value: its symbol."""
    try:
        return json.loads(value)["symbol"].encode("utf-8")
    except (TypeError, ValueError, KeyError, AttributeError):
        return None


def as_records(spark, values, keys=None):
    """Kafka-shaped rows (topic, partition, offset, key, value) for the given raw values."""
    keys = keys if keys is not None else [symbol_key(v) for v in values]
    rows = [
        ("t", 0, offset, key, None if v is None else v.encode("utf-8"))
        for offset, (key, v) in enumerate(zip(keys, values, strict=True))
    ]
    return spark.createDataFrame(rows, "topic string, partition int, offset long, key binary, value binary")


def sample_events():
    """Trades with volume, quotes without, duplicates, equal event times, gaps between windows."""
    rng = random.Random(3)
    events = []
    for n in range(400):
        symbol = rng.choice(["AAPL", "MSFT", "NVDA"])
        minute = rng.choice([0, 1, 2, 4, 7, 11])  # gaps: minutes 3, 5, 6, 8-10 have no events
        event_time = BASE + minute * MINUTE + rng.randrange(0, MINUTE, 250)  # many equal times
        is_trade = rng.random() < 0.7
        events.append(
            {
                "id": f"{symbol}-{n}",
                "symbol": symbol,
                "price": round(rng.uniform(90, 110), 2),
                "volume": float(rng.randint(1, 500)) if is_trade else None,
                "event_time": event_time,
                "source": "synthetic" if is_trade else "finnhub",
                "ingested_at": event_time + 5,
            }
        )
    # Resends: same id, same content; a symbol whose only window has quotes without volume.
    events += [dict(e) for e in rng.sample(events, 40)]
    events.append(
        {
            "id": "q1",
            "symbol": "TSLA",
            "price": 250.0,
            "volume": None,
            "event_time": BASE,
            "source": "finnhub",
            "ingested_at": BASE,
        }
    )
    rng.shuffle(events)
    return events


def write_partials(stack, frame, batch_id=0) -> list:
    """Write a frame of window partials through the job's sink (one batch); the rejects it held."""
    rows = BatchRows.from_window_partials(frame.collect(), closed_before_ms=None)  # no window closed
    sink = PostgresSink(stack.database_url)
    try:
        sink.write(Batch("transforms", "aggregates", batch_id), rows)
    finally:
        sink.close()
    return rows.rejects


def partials_of(spark, values, window_seconds):
    return WindowPartials(window_seconds).of(
        deduplicate(keyed_records(parse_records(as_records(spark, values))), "10 minutes")
    )


@pytest.mark.parametrize("windows", [[60], [300], [60, 300, 900]])
def test_aggregates_equal_the_reference(spark, stack, db, windows):
    events = sample_events()
    frame = partials_of(spark, [json.dumps(e) for e in events] + ["not json"], windows)
    assert write_partials(stack, frame) == [("t", 0, len(events), "not json", "not a valid JSON object")]
    expected = reference_aggregates(events, windows)
    actual = table_rows(db)
    assert_rows_match(actual, expected)
    assert actual[("TSLA", *next(k[1:] for k in expected if k[0] == "TSLA"))]["vwap"] is None


def test_partials_of_several_batches_merge_to_the_reference(spark, stack, db):
    events = sample_events()
    values = [json.dumps(e) for e in events]
    third = len(values) // 3
    # Batches as the job sees them: each de-duplicated against the ones before (here: ids not seen yet).
    seen, batches = set(), []
    for part in (values[:third], values[third : 2 * third], values[2 * third :]):
        fresh = []
        for value in part:
            if json.loads(value)["id"] not in seen:
                seen.add(json.loads(value)["id"])
                fresh.append(value)
        batches.append(fresh)
    for batch_id, batch in enumerate(batches):
        write_partials(stack, partials_of(spark, batch, [60, 300]), batch_id)
    assert_rows_match(table_rows(db), reference_aggregates(events, [60, 300]))


def test_open_and_close_break_time_ties_by_id_within_and_across_batches(spark, stack, db):
    same_time = BASE + 1000
    events = [
        {"id": "b", "symbol": "AAPL", "price": 2.0, "event_time": same_time},
        {"id": "a", "symbol": "AAPL", "price": 1.0, "event_time": same_time},
        {"id": "c", "symbol": "AAPL", "price": 3.0, "event_time": same_time},
        {"id": "B", "symbol": "AAPL", "price": 4.0, "event_time": same_time},  # "B" < "a" byte by byte
        {"id": "d", "symbol": "AAPL", "price": 5.0, "event_time": same_time},
    ]
    values = [json.dumps({**e, "volume": None, "source": "replay", "ingested_at": BASE}) for e in events]
    write_partials(stack, partials_of(spark, values[:3], [60]), 0)
    (row,) = table_rows(db).values()
    assert (row["open_price"], row["close_price"], row["event_count"]) == (1.0, 3.0, 3)
    write_partials(stack, partials_of(spark, values[3:], [60]), 1)
    (row,) = table_rows(db).values()
    assert (row["open_price"], row["close_price"], row["event_count"]) == (4.0, 5.0, 5)


GOOD = {
    "id": "x",
    "symbol": "AAPL",
    "price": 10.5,
    "volume": 3,
    "event_time": BASE,
    "source": "synthetic",
    "ingested_at": BASE,
}


@pytest.mark.parametrize(
    "raw, reason",
    [
        (None, "empty value"),
        ("not json at all", "not a valid JSON object"),
        ("[1, 2, 3]", "not a valid JSON object"),
        ('"a string"', "not a valid JSON object"),
        ("[" + json.dumps(GOOD) + "]", "not a valid JSON object"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "price"}), "missing field price"),
        (json.dumps({**GOOD, "price": None}), "missing field price"),
        (json.dumps({**GOOD, "price": "10.5"}), "price has the wrong type"),
        (json.dumps({**GOOD, "event_time": "soon"}), "event_time has the wrong type"),
        (json.dumps({**GOOD, "event_time": 1.5}), "event_time has the wrong type"),
        (json.dumps({**GOOD, "volume": {"n": 1}}), "volume has the wrong type"),
        (
            f'{{"id":"x","symbol":"AAPL","price":NaN,"volume":3,"event_time":{BASE},"source":"synthetic",'
            f'"ingested_at":{BASE}}}',
            "not a valid JSON object",
        ),  # NaN is not JSON
        (json.dumps({**GOOD, "price": "NaN"}), "price is not a finite positive number"),
        (json.dumps(GOOD).replace("10.5", "1e400"), "price is not a finite positive number"),
        (json.dumps({**GOOD, "price": 0}), "price is not a finite positive number"),
        (json.dumps({**GOOD, "price": -1}), "price is not a finite positive number"),
        (json.dumps({**GOOD, "volume": -1}), "volume is not a finite number >= 0"),
        (json.dumps({**GOOD, "symbol": "<script>"}), "symbol is not a ticker"),
        (json.dumps({**GOOD, "event_time": 42}), "event_time is not epoch milliseconds between 2000 and 2100"),
        (
            json.dumps({**GOOD, "event_time": 9_223_372_036_854_775_807}),
            "event_time is not epoch milliseconds between 2000 and 2100",
        ),
        (json.dumps({**GOOD, "source": "moon"}), "unknown source"),
        (json.dumps(GOOD), None),
        (json.dumps({**GOOD, "volume": None, "open": 1.0, "extra": "ignored"}), None),
    ],
)
def test_each_bad_record_gets_its_reason(spark, raw, reason):
    keyed = keyed_records(parse_records(as_records(spark, [raw])))  # what the job de-duplicates
    (row,) = keyed.collect()
    assert row.reason == reason
    assert (row.id is not None, row.event_ts is not None) == (reason is None, reason is None)


def test_rejected_records_keep_a_bounded_raw_value(spark):
    huge = json.dumps({**GOOD, "price": "x" * 200_000})
    keyed = keyed_records(parse_records(as_records(spark, [huge, "\x00 nul"])))
    row = keyed.where(F.col("reason").isNotNull()).select(*REJECT_COLUMNS).collect()
    assert [r.reason for r in row] == ["price has the wrong type", "not a valid JSON object"]
    assert len(row[0].raw_value) == 4096
    assert "\x00" not in row[1].raw_value


@pytest.mark.parametrize("key", [None, b"MSFT", b""])
def test_a_record_whose_key_is_not_its_symbol_is_rejected(spark, key):
    parsed = parse_records(as_records(spark, [json.dumps(GOOD)], keys=[key]))
    assert parsed.first().reason == "key is not the symbol"
