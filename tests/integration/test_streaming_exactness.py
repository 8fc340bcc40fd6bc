"""The streaming job through the real broker, Spark and Postgres: exact, idempotent, recoverable."""

import json
import re

from common.contract import build_trade_message
from reference.aggregates import assert_rows_match, reference_aggregates, table_rows
from tests.faults import ledger_batches
from tests.helpers import BASE, MINUTE, publish, run_module, trades


def forget_batches_from(checkpoint, batch_id: int) -> None:
    """The checkpoint as a crash leaves it after batch `batch_id` was written: its commit not recorded,
    and no later batch planned."""
    for log in ("commits", "offsets"):
        for entry in (checkpoint / log).glob("[0-9]*"):
            if int(entry.name) > batch_id or (log == "commits" and int(entry.name) == batch_id):
                entry.unlink()


def garbage_after(good: dict) -> tuple[list[bytes], list[bytes | None]]:
    """Records the job must reject (one valid one among them, with an extra field), and their keys."""
    values = [
        b"\x00\xff not json",
        json.dumps({**good, "id": "g1", "price": "12.5"}).encode(),
        json.dumps({**good, "id": "g2", "event_time": "yesterday"}).encode(),
        json.dumps(good).replace(str(good["price"]), "NaN", 1).replace('"id":"', '"id":"g3', 1).encode(),
        json.dumps(good).replace(str(good["price"]), "1e400", 1).replace('"id":"', '"id":"g4', 1).encode(),
        json.dumps({**good, "id": "g5", "pad": "x" * 200_000}).encode(),
        json.dumps({**good, "id": "g6"}).encode(),  # a valid message but with a null key
    ]
    symbol = good["symbol"].encode()
    return values, [None, symbol, symbol, symbol, symbol, symbol, None]


def rejected_reasons(db) -> list[str]:
    with db.cursor() as cursor:
        cursor.execute("SELECT reason, length(raw_value) FROM rejected_events ORDER BY kafka_offset")
        rejected = cursor.fetchall()
    assert all(length <= 4096 for _, length in rejected)
    return sorted(reason for reason, _ in rejected)


def test_garbage_is_rejected_once_through_a_replay_and_a_new_checkpoint_and_the_table_stays_exact(
    stack, db, topic_factory, pipeline_env, tmp_path
):
    topic = topic_factory("exact")
    valid = trades(3000, seed=1)
    garbage, garbage_keys = garbage_after(valid[0])
    publish(stack.bootstrap_servers, topic, valid[:1500])
    publish(stack.bootstrap_servers, topic, garbage, keys=garbage_keys)
    publish(stack.bootstrap_servers, topic, valid[1500:])
    env = pipeline_env(topic)
    run_module("streaming", "--available-now", "--watermark", "1 hour", env=env)
    # The 200 kB value is a valid message with an extra field: it counts, like the others.
    first = table_rows(db)
    assert_rows_match(first, reference_aggregates([*valid, json.loads(garbage[5])], [60, 300]))
    reasons = [
        "event_time has the wrong type",
        "key is not the symbol",
        "not a valid JSON object",  # binary junk
        "not a valid JSON object",  # NaN is not JSON
        "price has the wrong type",
        "price is not a finite positive number",  # 1e400 reads as infinity
    ]
    assert rejected_reasons(db) == reasons
    # A crash after the batch was written but before Spark committed it: the restart reads it again.
    (written,) = ledger_batches(db)
    forget_batches_from(tmp_path / "checkpoints" / topic / "aggregates", written[1])
    replay = run_module("streaming", "--available-now", "--watermark", "1 hour", env=env)
    assert f"aggregates batch {written[1]} was written before (a replay after a restart); skipped" in replay.stderr
    assert rejected_reasons(db) == reasons
    with db.cursor() as cursor:
        cursor.execute("TRUNCATE stock_aggregates")  # so the second run must write every row again
    again = pipeline_env(topic, CHECKPOINT_DIR=str(tmp_path / "fresh-checkpoint"))
    # Small batches: every window is folded together from the partials of several batches.
    result = run_module(
        "streaming", "--available-now", "--watermark", "1 hour", "--max-offsets-per-trigger", "300", env=again
    )
    assert len(re.findall(r"aggregates batch \d+: [1-9]\d* rows in", result.stderr)) == 11  # 3157 / 300
    assert_rows_match(table_rows(db), first)
    assert rejected_reasons(db) == reasons  # a new checkpoint finds its rejects recorded already


def test_out_of_order_events_are_merged_or_dropped_never_lose_a_window_s_trades(stack, db, topic_factory, pipeline_env):
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

    # One event per micro-batch. With chained stateful operators (dedupe, then windows) Spark judges a
    # batch's late events by the watermark of the batch before (watermark = newest event time - 2 min).
    events = [
        trade("first", 0, 10, 100.0),
        trade("ahead", 5, 0, 101.0),  # the newest event less the delay (10:03) passes the 10:00 window's end
        trade("back-in-10-00", 0, 40, 102.0),  # late for 10:03, not for the watermark Spark applies (09:58:10)
        trade("moves-the-watermark", 10, 0, 103.0),
        trade("filler", 10, 5, 101.5),  # its batch's watermark: 10:10 - 2 min = 10:08
        trade("too-late", 1, 30, 99.0),  # 10:01:30 < 10:08: dropped
        trade("late-but-within", 9, 30, 102.0),  # 10:09:30 >= 10:08:05: counted
    ]
    publish(stack.bootstrap_servers, topic, events)
    result = run_module(
        "streaming",
        "--available-now",
        "--windows",
        "1 minute,5 minutes,60 seconds",  # 60 seconds is 1 minute again: counted once
        "--watermark",
        "2 minutes",
        "--max-offsets-per-trigger",
        "1",
        env=pipeline_env(topic),
    )
    assert "windows 1 minute, 5 minutes," in result.stderr
    dropped = [int(n) for n in re.findall(r"aggregates batch \d+: .*, (\d+) dropped as late", result.stderr)]
    # Spark may drop the trade back in 10:00 as late, or count it; the window never loses the first trade.
    late = {1: {"too-late"}, 2: {"too-late", "back-in-10-00"}}[sum(dropped)]
    counted = [e for e in events if e["id"] not in late]
    assert_rows_match(table_rows(db), reference_aggregates(counted, [60, 300]))
    assert late == {"too-late"}  # what Spark 4.2 does: the trade back in 10:00 counts
