"""The streaming job through the real broker, Spark and Postgres: exact, idempotent, recoverable."""

import json
import re

from common.contract import build_trade_message
from reference.aggregates import assert_rows_match, reference_aggregates, table_rows
from tests.helpers import BASE, MINUTE, publish, run_module, trades


def test_a_second_run_from_a_new_checkpoint_in_many_batches_gives_the_same_table(
    stack, db, topic_factory, pipeline_env, tmp_path
):
    topic = topic_factory("twice")
    events = trades(3000, seed=1)
    publish(stack.bootstrap_servers, topic, events)
    run_module("streaming", "--available-now", "--watermark", "1 hour", env=pipeline_env(topic))
    first = table_rows(db)
    assert_rows_match(first, reference_aggregates(events, [60, 300]))
    with db.cursor() as cursor:
        cursor.execute("TRUNCATE stock_aggregates")  # so the second run must write every row again
    again = pipeline_env(topic, CHECKPOINT_DIR=str(tmp_path / "fresh-checkpoint"))
    # Small batches: every window is folded together from the partials of several batches.
    result = run_module(
        "streaming", "--available-now", "--watermark", "1 hour", "--max-offsets-per-trigger", "300", env=again
    )
    assert len(re.findall(r"aggregates batch \d+: [1-9]\d* rows in", result.stderr)) == 11  # 3150 / 300
    assert_rows_match(table_rows(db), first)


def test_garbage_is_rejected_once_each_and_valid_rows_are_unaffected(stack, db, topic_factory, pipeline_env):
    topic = topic_factory("garbage")
    valid = trades(200, seed=3)
    good = valid[0]
    garbage = [
        b"\x00\xff not json",
        json.dumps({**good, "id": "g1", "price": "12.5"}).encode(),
        json.dumps({**good, "id": "g2", "event_time": "yesterday"}).encode(),
        json.dumps(good).replace(str(good["price"]), "NaN", 1).replace('"id":"', '"id":"g3', 1).encode(),
        json.dumps(good).replace(str(good["price"]), "1e400", 1).replace('"id":"', '"id":"g4', 1).encode(),
        json.dumps({**good, "id": "g5", "pad": "x" * 200_000}).encode(),
        json.dumps({**good, "id": "g6"}).encode(),  # a valid message but with a null key
    ]
    garbage_keys = [
        None,
        b"AAPL",
        good["symbol"].encode(),
        good["symbol"].encode(),
        good["symbol"].encode(),
        good["symbol"].encode(),
        None,
    ]
    publish(stack.bootstrap_servers, topic, valid[:100])
    publish(stack.bootstrap_servers, topic, garbage, keys=garbage_keys)
    publish(stack.bootstrap_servers, topic, valid[100:])
    env = pipeline_env(topic)
    run_module("streaming", "--available-now", "--watermark", "1 hour", env=env)
    run_module("streaming", "--available-now", "--watermark", "1 hour", env=env)  # a restart adds nothing
    with db.cursor() as cursor:
        cursor.execute("SELECT reason, length(raw_value) FROM rejected_events ORDER BY kafka_offset")
        rejected = cursor.fetchall()
    assert sorted(reason for reason, _ in rejected) == [
        "event_time has the wrong type",
        "key is not the symbol",
        "not a valid JSON object",  # binary junk
        "not a valid JSON object",  # NaN is not JSON
        "price has the wrong type",
        "price is not a finite positive number",  # 1e400 reads as infinity
    ]
    assert all(length <= 4096 for _, length in rejected)
    # The 200 kB value is a valid message with an extra field: it counts, like the others.
    assert_rows_match(table_rows(db), reference_aggregates([*valid, json.loads(garbage[5])], [60, 300]))


def test_events_later_than_the_watermark_are_dropped_and_counted(stack, db, topic_factory, pipeline_env):
    topic = topic_factory("late")

    def trade(name, minute, second, price):
        at = BASE + minute * MINUTE + second * 1000
        return build_trade_message(
            message_id=name,
            symbol="AAPL",
            price=price,
            volume=1.0,
            event_time_ms=at,
            source="replay",
            ingested_at_ms=at,
        )

    # One event per micro-batch. With chained stateful operators (dedupe, then windows) Spark
    # judges lateness by the watermark of the batch before, hence the filler.
    publish(
        stack.bootstrap_servers,
        topic,
        [
            trade("early", 0, 10, 100.0),
            trade("moves-the-watermark", 10, 0, 101.0),  # watermark: 10:10 - 2 min = 10:08
            trade("filler", 10, 5, 101.5),
            trade("too-late", 1, 30, 99.0),  # 10:01:30 < 10:08: dropped
            trade("late-but-within", 9, 30, 102.0),  # 10:09:30 >= 10:08: counted
        ],
    )
    result = run_module(
        "streaming",
        "--available-now",
        "--watermark",
        "2 minutes",
        "--max-offsets-per-trigger",
        "1",
        env=pipeline_env(topic),
    )
    dropped = [int(n) for n in re.findall(r"aggregates batch \d+: .*, (\d+) dropped as late", result.stderr)]
    assert sum(dropped) == 1 and dropped.count(1) == 1, result.stderr
    minutes = {
        (key[1].minute, (key[2] - key[1]).seconds // 60): row["event_count"] for key, row in table_rows(db).items()
    }
    assert minutes == {(0, 1): 1, (0, 5): 1, (10, 1): 2, (10, 5): 2, (9, 1): 1, (5, 5): 1}
