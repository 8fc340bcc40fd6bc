"""Every query of sql/examples.sql runs, and returns rows, against a filled database."""

from datetime import datetime, timedelta, timezone

import pytest

from common.settings import REPO_ROOT

EXAMPLES = REPO_ROOT / "sql" / "examples.sql"


def statements() -> list[str]:
    """The file's statements, without their comment lines."""
    text = "\n".join(line for line in EXAMPLES.read_text().splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip()]


@pytest.fixture
def filled(db):
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    with db.cursor() as cursor:
        for symbol, base in (("AAPL", 230.0), ("MSFT", 420.0)):
            for minutes_ago in range(1, 30):
                start = now - timedelta(minutes=minutes_ago)
                price = base + minutes_ago / 10
                close = price * 1.03 if minutes_ago == 3 else price + 0.5  # one spike each
                for size in (1, 5):
                    cursor.execute(
                        "INSERT INTO stock_aggregates VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0.1, 3, 300, %s,"
                        " %s, %s, now()) ON CONFLICT DO NOTHING",
                        (symbol, start, start + timedelta(minutes=size), price, price + 1, price - 1,
                         close, price, price + 0.2, start, start + timedelta(seconds=30)),
                    )
        cursor.execute("INSERT INTO rejected_events (topic, partition, kafka_offset, raw_value, reason)"
                       " VALUES ('t', 0, 1, 'x', 'not a valid JSON object')")
        cursor.execute("INSERT INTO streaming_batches VALUES ('q', 'aggregates-1m', 0, 5, now())")
    return db


def test_the_file_has_the_queries_the_readme_promises():
    assert len(statements()) == 10


@pytest.mark.parametrize("index", range(10))
def test_each_example_query_runs_and_returns_rows(filled, index):
    sql = statements()[index]
    with filled.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    assert rows, f"no rows from:\n{sql}"
    if "change_pct" in sql:
        assert {r[0] for r in rows} == {"AAPL", "MSFT"}
