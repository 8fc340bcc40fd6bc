"""Every query of sql/examples.sql runs and returns exactly the rows it should, at any time of day."""

from datetime import timedelta

import pytest

from common.settings import REPO_ROOT

EXAMPLES = REPO_ROOT / "sql" / "examples.sql"


def statements() -> list[str]:
    """The file's statements, without their comment lines."""
    text = "\n".join(line for line in EXAMPLES.read_text().splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip()]


MINUTES_AGO = range(1, 30)  # 29 candles of each size and symbol, the newest one minute ago
BASES = {"AAPL": 230.0, "MSFT": 420.0}


@pytest.fixture
def filled(db):
    with db.cursor() as cursor:
        cursor.execute("SELECT date_trunc('minute', now())")
        (now,) = cursor.fetchone()
    with db.cursor() as cursor:
        for symbol, base in BASES.items():
            for minutes_ago in MINUTES_AGO:
                start = now - timedelta(minutes=minutes_ago)
                price = base + minutes_ago / 10
                close = price * 1.03 if minutes_ago == 3 else price + 0.5  # one spike each
                for size in (1, 5):
                    cursor.execute(
                        "INSERT INTO stock_aggregates VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0.1, 3, 300, %s,"
                        " %s, %s, now()) ON CONFLICT DO NOTHING",
                        (
                            symbol,
                            start,
                            start + timedelta(minutes=size),
                            price,
                            price + 1,
                            price - 1,
                            close,
                            price,
                            price + 0.2,
                            start,
                            start + timedelta(seconds=30),
                        ),
                    )
        cursor.execute(
            "INSERT INTO rejected_events (topic, partition, kafka_offset, raw_value, reason)"
            " VALUES ('t', 0, 1, 'x', 'not a valid JSON object')"
        )
        cursor.execute("INSERT INTO streaming_batches VALUES ('q', 'aggregates-1m', 0, 5, now())")
    return db, now


def test_the_file_has_the_queries_the_readme_promises():
    assert len(statements()) == 10


def run(connection, index):
    with connection.cursor() as cursor:
        cursor.execute(statements()[index])
        return cursor.fetchall()


def test_each_example_query_returns_exactly_its_rows(filled):
    db, now = filled
    newest = now - timedelta(minutes=1)
    close = {s: base + 1 / 10 + 0.5 for s, base in BASES.items()}  # the newest candle's close
    midnight = newest.replace(hour=0, minute=0)
    candles_today = sum(1 for m in MINUTES_AGO if now - timedelta(minutes=m) >= midnight)

    assert [r[:4] for r in run(db, 0)] == [("AAPL", newest, close["AAPL"], 3), ("MSFT", newest, close["MSFT"], 3)]
    assert [r[0] for r in run(db, 1)] == [now - timedelta(minutes=m) for m in reversed(MINUTES_AGO)]
    assert [(r[0], r[1]) for r in run(db, 2)] == [("AAPL", newest), ("MSFT", newest)]  # 0.13 % then 0.07 %
    assert [r[:2] for r in run(db, 3)] == [("not a valid JSON object", 1)]
    assert [r[:3] for r in run(db, 4)] == [("aggregates-1m", 0, 5)]
    assert [r[1] for r in run(db, 5)] == [now - timedelta(minutes=m) for m in MINUTES_AGO]
    assert len(run(db, 6)) == 20
    spike_start = now - timedelta(minutes=3)
    assert sorted((r[0], r[1].total_seconds(), r[2]) for r in run(db, 7)) == [
        (s, size, spike_start) for s in BASES for size in (60.0, 300.0)
    ]
    movers = {(r[0], r[1]): r[6] for r in run(db, 8)}  # (symbol, period) -> candles
    assert movers == {(s, "hour"): 29 for s in BASES} | {(s, "day"): candles_today for s in BASES}
    assert [r[1] for r in run(db, 9)] == [now - timedelta(minutes=m) for m in MINUTES_AGO][:20]
