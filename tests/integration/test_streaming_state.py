"""The job's state stays bounded by the watermark after hours of event time in micro-batches: the ids
Spark keeps for de-duplication and the windows the sink keeps in stock_window_state."""

import re

from common.contract import build_trade_message
from tests.helpers import BASE, publish, run_module

SYMBOLS = ["AAPL", "MSFT", "GOOGL", "TSLA", "AMZN", "META", "NVDA", "NFLX"]
HOURS, EVERY_MS = 3, 2_000  # one trade per symbol every 2 s: 43,200 trades


def test_state_after_three_hours_of_event_time_holds_only_what_the_watermark_allows(
    stack, db, topic_factory, pipeline_env
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
        "4000",
        env=pipeline_env(topic),
    )
    batches = re.findall(
        r"aggregates batch \d+: (\d+) rows in .*, (\d+) dropped as late, (\d+) ids in state", result.stderr
    )
    assert sum(int(rows) for rows, _, _ in batches) == len(events) and len(batches) >= 11
    assert sum(int(dropped) for _, dropped, _ in batches) == 0
    # An id is kept until the watermark (2 minutes behind the newest event of the batches before) passes
    # its time plus 2 minutes: the batch just read (4,000) and about 4 minutes of trades before it (960),
    # against 43,200 read.
    assert max(int(ids) for _, _, ids in batches) <= 4000 + len(SYMBOLS) * 4 * 60_000 // EVERY_MS
    with db.cursor() as cursor:
        cursor.execute("SELECT window_end - window_start, count(*) FROM stock_window_state GROUP BY 1 ORDER BY 1")
        kept = {size.total_seconds(): count for size, count in cursor.fetchall()}
        cursor.execute("SELECT count(*) FROM stock_aggregates")
        (windows,) = cursor.fetchone()
    assert windows == len(SYMBOLS) * HOURS * (60 + 12)  # every 1- and 5-minute window is in the table
    # Only windows that end after the watermark of the last batch: at most the last 3 minutes (1-minute
    # windows) and the last two 5-minute windows of each symbol.
    assert kept[60.0] <= len(SYMBOLS) * 3 and kept[300.0] <= len(SYMBOLS) * 2
