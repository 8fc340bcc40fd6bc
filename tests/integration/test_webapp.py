"""The webapp against a real Postgres seeded per test."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import InternalError, ProgrammingError

from tests.helpers import read_write
from webapp.db import read_only

START = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)


def seed(db, symbol, start, minutes, close):
    with db.cursor() as cursor:
        cursor.execute(
            "INSERT INTO stock_aggregates (symbol, window_start, window_end, open_price, high_price, low_price,"
            " close_price, avg_price, price_stddev, event_count, volume, vwap, first_event_at, last_event_at)"
            " VALUES (%s, %s, %s, 1, %s, 1, %s, 1, NULL, 1, NULL, NULL, %s, %s)",
            (symbol, start, start + timedelta(minutes=minutes), close, close, start, start),
        )


def test_latest_gives_the_newest_row_of_the_window_size_per_symbol(client, db):
    seed(db, "AAPL", START, 1, 10.0)
    seed(db, "AAPL", START + timedelta(minutes=1), 1, 11.0)
    seed(db, "AAPL", START, 5, 12.0)
    seed(db, "MSFT", START, 1, 20.0)
    rows = client.get("/api/latest?window=1m").get_json()
    assert [(r["symbol"], r["close_price"], r["window_start"]) for r in rows] == [
        ("AAPL", 11.0, "2026-11-20T14:31:00Z"),
        ("MSFT", 20.0, "2026-11-20T14:30:00Z"),
    ]
    assert list(rows[0])[:3] == ["symbol", "window_start", "window_end"]
    assert [r["close_price"] for r in client.get("/api/latest?window=5m").get_json()] == [12.0]
    assert client.get("/api/latest?window=15m").get_json() == []


@pytest.mark.parametrize("window", ["2m", "1m'; DROP TABLE stock_aggregates; --", ""])
def test_a_bad_window_is_a_400_naming_the_parameter(client, window):
    response = client.get("/api/latest", query_string={"window": window})
    assert response.status_code == 400
    assert response.get_json()["parameter"] == "window"


def test_health_reports_the_age_of_the_newest_row(client, db):
    assert client.get("/healthz").get_json()["newest_row_at"] is None
    with db.cursor() as cursor:  # a row written 90 s ago
        cursor.execute(
            "INSERT INTO stock_aggregates (symbol, window_start, window_end, open_price, high_price, low_price,"
            " close_price, avg_price, event_count, first_event_at, last_event_at, updated_at)"
            " VALUES ('AAPL', %s, %s, 1, 10, 1, 10, 1, 1, %s, %s, now() - interval '90 seconds') RETURNING updated_at",
            (START, START + timedelta(minutes=1), START, START),
        )
        (updated_at,) = cursor.fetchone()
    health = client.get("/healthz").get_json()
    assert health["status"] == "ok"
    assert health["newest_row_at"] == updated_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert 90.0 <= health["newest_row_age_seconds"] < 95.0  # written 90 s ago, read within a few seconds


def test_health_is_503_when_the_database_is_unreachable(make_app):
    app = make_app(DATABASE_URL="postgresql://nobody:pw@127.0.0.1:1/none")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert "pw" not in response.get_data(as_text=True)


def test_page_is_served_with_security_headers_and_no_inline_script(client):
    response = client.get("/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert 'data-poll-seconds="5"' in page
    assert "<script>" not in page and "/static/app.js" in page
    assert client.get("/static/app.js").status_code == 200


def test_symbols_are_returned_as_data_never_as_markup(client, db):
    seed(db, "<SCRIPT>", START, 1, 1.0)
    response = client.get("/api/latest")
    assert response.mimetype == "application/json"
    assert response.get_json()[0]["symbol"] == "<SCRIPT>"


def test_aggregates_come_oldest_first_limited_to_the_newest(client, db):
    for minute in range(5):
        seed(db, "AAPL", START + timedelta(minutes=minute), 1, 10.0 + minute)
    seed(db, "AAPL", START, 5, 99.0)
    rows = client.get("/api/aggregates?symbol=aapl&window=1m&limit=3").get_json()
    assert [r["close_price"] for r in rows] == [12.0, 13.0, 14.0]
    since = client.get("/api/aggregates", query_string={"symbol": "AAPL", "since": "2026-11-20T14:33:00Z"})
    assert [r["close_price"] for r in since.get_json()] == [13.0, 14.0]
    assert client.get("/api/aggregates?symbol=ZZZZ").get_json() == []


@pytest.mark.parametrize(
    "query, parameter",
    [
        ("window=1m", "symbol"),
        ("symbol=<script>alert(1)</script>", "symbol"),
        ("symbol=AAPL;DROP TABLE x", "symbol"),
        ("symbol=AAPL&limit=0", "limit"),
        ("symbol=AAPL&limit=99999", "limit"),
        ("symbol=AAPL&limit=ten", "limit"),
        ("symbol=AAPL&since=yesterday", "since"),
        ("symbol=AAPL&window=7m", "window"),
    ],
)
def test_bad_aggregates_parameters_are_400s_naming_them(client, query, parameter):
    response = client.get(f"/api/aggregates?{query}")
    assert response.status_code == 400
    assert response.get_json()["parameter"] == parameter


def test_symbols_and_quality(client, db):
    seed(db, "MSFT", START, 1, 1.0)
    seed(db, "AAPL", START + timedelta(minutes=3), 1, 1.0)
    assert [(s["symbol"], s["newest_window_end"]) for s in client.get("/api/symbols").get_json()] == [
        ("AAPL", "2026-11-20T14:34:00Z"),
        ("MSFT", "2026-11-20T14:31:00Z"),
    ]
    with db.cursor() as cursor:
        for offset, reason in enumerate(["not a valid JSON object", "not a valid JSON object", "unknown source"]):
            cursor.execute(
                "INSERT INTO rejected_events (topic, partition, kafka_offset, raw_value, reason)"
                " VALUES ('t', 0, %s, '<b>x</b>', %s)",
                (offset, reason),
            )
    quality = client.get("/api/quality").get_json()
    assert quality["rejected"] == 3
    assert [(r["reason"], r["events"]) for r in quality["reasons"]] == [
        ("not a valid JSON object", 2),
        ("unknown source", 1),
    ]


def test_the_app_answers_503_while_the_database_is_down_and_recovers(stack, client, db):
    if stack.postgres is None:
        pytest.skip("the tests did not start this Postgres, so they do not stop it")
    seed(db, "AAPL", START, 1, 10.0)
    assert client.get("/api/latest").status_code == 200
    assert client.get("/api/snapshot").status_code == 200  # its statements prepared in the pooled session
    db.close()
    stack.postgres.stop()
    try:
        for path in (
            "/api/latest",
            "/api/aggregates?symbol=AAPL",
            "/api/symbols",
            "/api/quality",
            "/healthz",
            "/api/indicators?symbol=AAPL",
            "/api/spikes",
            "/api/movers",
            "/api/snapshot?window=5m",
        ):
            response = client.get(path)
            assert response.status_code == 503, path
            assert "unavailable" in response.get_json()["error"]
    finally:
        stack.postgres.start()
    assert client.get("/api/latest").get_json()[0]["close_price"] == 10.0
    snapshot = client.get("/api/snapshot?window=1m&limit=5").get_json()  # prepared again in a new session
    assert [c["close_price"] for c in snapshot["candles"]] == [10.0]
    assert client.get("/healthz").status_code == 200


def test_the_webapp_role_can_read_but_not_write(stack, db, make_app):
    if stack.reader_url is None:
        pytest.skip("the tests did not create a read-only role on this Postgres")
    seed(db, "AAPL", START, 1, 10.0)
    app = make_app(DATABASE_URL=stack.reader_url)
    assert app.test_client().get("/api/latest").get_json()[0]["symbol"] == "AAPL"
    with (
        app.app_context(),
        pytest.raises(ProgrammingError, match="permission denied"),
        read_write(app.extensions["db_engine"]).begin() as connection,
    ):
        connection.execute(text("DELETE FROM stock_aggregates"))
    with app.app_context(), pytest.raises(InternalError, match="read-only transaction"), read_only() as connection:
        connection.execute(text("DELETE FROM stock_aggregates"))
