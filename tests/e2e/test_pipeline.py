"""The whole pipeline: synthetic producer -> Kafka -> Spark (--available-now) -> Postgres -> webapp."""

import json
import urllib.request
from datetime import datetime

import pytest
from kafka import KafkaProducer

from reference.aggregates import assert_rows_match, reference_aggregates, table_rows
from tests.helpers import read_messages, run_module, start_webapp

SYMBOLS = ["AAPL", "MSFT", "GOOGL", "TSLA", "AMZN", "META", "NVDA", "NFLX"]
GARBAGE = {
    b"not json": "not a valid JSON object",
    b'{"id": "x", "symbol": "AAPL"}': "missing field price",
    b'{"id":"y","symbol":"AAPL","price":-1,"event_time":1763000000000,"source":"replay","ingested_at":1}': (
        "price is not a finite positive number"
    ),
}


def publish_raw(bootstrap_servers, topic, values):
    """Put raw values on the topic, as a broken producer would."""
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers)
    for value in values:
        producer.send(topic, value=value)
    producer.flush()
    producer.close()


@pytest.fixture
def webapp(pipeline_env):
    """`python -m webapp` on a free port."""
    process, base = start_webapp(pipeline_env("unused-by-the-webapp"))
    yield base
    process.terminate()
    process.communicate(timeout=10)


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def test_published_events_reach_the_api_exactly(stack, db, topic_factory, pipeline_env, webapp):
    topic = topic_factory("e2e")
    env = pipeline_env(topic)
    run_module("producer", "--source", "synthetic", "--cycles", "6", "--interval", "0.2", "--seed", "5", env=env)
    published = read_messages(stack.bootstrap_servers, topic)
    assert len(published) == 6 * len(SYMBOLS)
    publish_raw(stack.bootstrap_servers, topic, GARBAGE)

    result = run_module("streaming", "--available-now", env=env)
    assert "aggregates batch 0" in result.stderr

    expected = reference_aggregates(published, [60, 300])
    assert_rows_match(table_rows(db), expected)
    with db.cursor() as cursor:
        cursor.execute("SELECT reason FROM rejected_events WHERE topic = %s ORDER BY reason", (topic,))
        assert [r for (r,) in cursor.fetchall()] == sorted(GARBAGE.values())

    latest = get_json(f"{webapp}/api/latest?window=1m")
    assert sorted(row["symbol"] for row in latest) == sorted(SYMBOLS)
    for row in latest:
        key = (row["symbol"], datetime.fromisoformat(row["window_start"]), datetime.fromisoformat(row["window_end"]))
        newest_start = max(k[1] for k in expected if k[0] == row["symbol"] and (k[2] - k[1]).seconds == 60)
        assert key[1] == newest_start
        want = expected[key]
        assert row["event_count"] == want["event_count"]
        assert row["close_price"] == want["close_price"] and row["open_price"] == want["open_price"]
        assert row["volume"] == want["volume"]
        assert row["vwap"] == pytest.approx(want["vwap"], rel=1e-9)

    health = get_json(f"{webapp}/healthz")
    assert health["status"] == "ok" and health["newest_row_age_seconds"] < 300
