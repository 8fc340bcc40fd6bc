"""The job's state stays bounded by the watermark after hours of event time in micro-batches: the ids the
de-duplication keeps (jvm/dedupe) and the windows the sink keeps in stock_window_state."""

import json
import re
from datetime import UTC, datetime

from common.contract import build_trade_message
from tests.helpers import BASE, publish, run_module

SYMBOLS = ["AAPL", "MSFT", "GOOGL", "TSLA", "AMZN", "META", "NVDA", "NFLX"]
HOURS, EVERY_MS, PER_BATCH = 2, 2_000, 1_000  # one trade per symbol every 2 s: 28,800 trades, 29 batches
DEDUPE_BUCKET_MS = 5_000  # the operator forgets an id once the watermark passes the end of its 5 s bucket


def test_state_after_hours_of_event_time_holds_only_what_the_watermark_allows(
    stack, db, topic_factory, pipeline_env, tmp_path
):
    topic = topic_factory("state")
    events = [
        build_trade_message(
            message_id=f"{symbol}-{at}",
            symbol=symbol,
            price=100.0 + at % 7,
            volume=1.0,
            event_time_ms=BASE + at,
            source="replay",
            ingested_at_ms=BASE + at,
        )
        for at in range(0, HOURS * 3_600_000, EVERY_MS)
        for symbol in SYMBOLS
    ]
    publish(stack.bootstrap_servers, topic, events)
    result = run_module(
        "streaming",
        "--available-now",
        "--watermark",
        "2 minutes",
        "--max-offsets-per-trigger",
        str(PER_BATCH),
        env=pipeline_env(topic),
    )
    batches = re.findall(
        r"aggregates batch \d+: (\d+) rows in .*, (\d+) dropped as late, (\d+) ids in state", result.stderr
    )
    assert sum(int(rows) for rows, _, _ in batches) == len(events) and len(batches) >= 29
    assert sum(int(dropped) for _, dropped, _ in batches) == 0
    offsets = tmp_path / "checkpoints" / topic / "aggregates" / "offsets"
    last = max(int(entry.name) for entry in offsets.glob("[0-9]*"))
    watermark_ms = json.loads((offsets / str(last)).read_text().splitlines()[1])["batchWatermarkMs"]
    watermark = datetime.fromtimestamp(watermark_ms / 1000, UTC)
    # An id is kept until the batch's watermark (2 minutes behind the newest event of the batches before)
    # passes the end of its event time's 5 s bucket: after the last batch, exactly those ids, about 4
    # minutes of trades (the last batch's and the delay's), against 28,800 read.
    held = sum(
        1 for e in events if e["event_time"] // DEDUPE_BUCKET_MS * DEDUPE_BUCKET_MS + DEDUPE_BUCKET_MS > watermark_ms
    )
    assert int(batches[-1][2]) == held
    # and in every batch, at most the batch's trades and about 4 minutes of trades before them
    assert max(int(ids) for _, _, ids in batches) <= PER_BATCH + len(SYMBOLS) * 4 * 60_000 // EVERY_MS
    # The sink keeps a window's state until it ends by a batch's watermark (Spark judges the next batch's
    # late events by it): exactly the windows ending after the last batch's watermark.
    with db.cursor() as cursor:
        cursor.execute("SELECT symbol, window_start, window_end FROM stock_window_state")
        kept = set(cursor.fetchall())
        cursor.execute("SELECT symbol, window_start, window_end FROM stock_aggregates")
        windows = set(cursor.fetchall())
    assert len(windows) == len(SYMBOLS) * HOURS * (60 + 12)  # every 1- and 5-minute window is in the table
    assert kept == {w for w in windows if w[2] > watermark}
    # A batch holds 1,000 / 8 x 2 s ~ 4.2 minutes of trades: with the 2-minute delay, at most 8 one-minute
    # and 3 five-minute windows per symbol are open.
    sizes = [(end - start).total_seconds() for _, start, end in kept]
    assert 0 < sizes.count(60.0) <= len(SYMBOLS) * 8 and sizes.count(300.0) <= len(SYMBOLS) * 3
