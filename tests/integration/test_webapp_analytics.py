"""The analytics endpoints (/api/indicators, /api/spikes, /api/movers) against a real Postgres seeded
per test, checked against the plain-Python reference of the views."""

import math
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from reference import analytics as reference
from tests.candles import candle, insert_candles, random_series
from webapp.queries import as_json_value

START = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def candles(db):
    rows = [
        *random_series("AAPL", START, 1, 40, seed=11, gap_every=6),
        *random_series("AAPL", START, 5, 10, seed=12),
        *random_series("MSFT", START + 10 * MINUTE, 1, 30, seed=13, price=420.0),
    ]
    insert_candles(db, rows)
    return rows


def close_enough(actual: dict, expected: dict) -> bool:
    """The expected fields equal, floats to 1e-9 relative."""
    return all(
        math.isclose(actual[k], v, rel_tol=1e-9) if isinstance(v, float) else actual[k] == v
        for k, v in expected.items()
    )


def test_indicators_are_the_newest_candles_with_averages_over_the_whole_series(client, candles):
    expected = reference.indicators(candles)
    aapl_1m = sorted(k for k in expected if k[0] == "AAPL" and k[2] - k[1] == MINUTE)
    rows = client.get("/api/indicators?symbol=aapl&window=1m&limit=10").get_json()
    assert [r["window_start"] for r in rows] == [as_json_value(k[1]) for k in aapl_1m[-10:]]
    for row, key in zip(rows, aapl_1m[-10:], strict=True):
        assert close_enough(row, expected[key]), key
    assert rows[-1]["candle_number"] == 40 and rows[-1]["sma_20"] is not None
    since = as_json_value(aapl_1m[-3][1])
    later = client.get("/api/indicators", query_string={"symbol": "AAPL", "since": since}).get_json()
    assert [r["candle_number"] for r in later] == [38, 39, 40]  # since cuts the answer, not the history
    assert list(rows[0])[:3] == ["symbol", "window_start", "window_end"]
    assert client.get("/api/indicators?symbol=ZZZZ").get_json() == []


def test_spikes_of_a_window_size_oldest_first_by_symbol_and_since(client, candles):
    expected = reference.spikes(candles)
    one_minute = sorted((k for k in expected if k[2] - k[1] == MINUTE), key=lambda k: (k[1], k[0]))
    assert len(one_minute) > 3
    rows = client.get("/api/spikes?window=1m&limit=2000").get_json()
    assert [(r["symbol"], r["window_start"]) for r in rows] == [(k[0], as_json_value(k[1])) for k in one_minute]
    assert all(math.isclose(r["change_pct"], expected[k]) for r, k in zip(rows, one_minute, strict=True))
    msft = client.get("/api/spikes?symbol=msft").get_json()
    assert {r["symbol"] for r in msft} == {"MSFT"} and len(msft) == sum(k[0] == "MSFT" for k in one_minute)
    since = as_json_value(one_minute[-2][1])
    recent = client.get("/api/spikes", query_string={"since": since}).get_json()
    assert [(r["symbol"], r["window_start"]) for r in recent] == [
        (k[0], as_json_value(k[1])) for k in one_minute if k[1] >= one_minute[-2][1]
    ]
    newest = client.get("/api/spikes?limit=1").get_json()
    assert [(r["symbol"], r["window_start"]) for r in newest] == [(one_minute[-1][0], as_json_value(one_minute[-1][1]))]


def test_spikes_under_a_lower_threshold_set_for_the_webapps_sessions_are_still_the_views(make_app, candles):
    app = make_app()

    def lower_threshold(connection, _record):
        with connection.cursor() as cursor:
            cursor.execute("SET stocks.spike_threshold_pct = 0.5")

    event.listen(app.extensions["db_engine"], "connect", lower_threshold)
    rows = app.test_client().get("/api/spikes?window=1m&limit=2000").get_json()
    lower = reference.spikes(candles, threshold_pct=0.5)
    one_minute = sorted((k for k in lower if k[2] - k[1] == MINUTE), key=lambda k: (k[1], k[0]))
    assert len(one_minute) > len([k for k in reference.spikes(candles) if k[2] - k[1] == MINUTE])
    assert [(r["symbol"], r["window_start"]) for r in rows] == [(k[0], as_json_value(k[1])) for k in one_minute]


def rows_read(db, statement: str, parameters) -> tuple[int, set[str]]:
    """The rows a statement's plan read from stock_aggregates (returned or filtered out), and the
    indexes it read them through (or the other way it read them)."""
    with db.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
        plan = cursor.fetchone()[0]
    nodes, stack, read, indexes = [], [plan[0]["Plan"]], 0, set()
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node.get("Plans", []))
        if node.get("Relation Name") == "stock_aggregates" and node["Actual Loops"]:  # one that ran
            removed = node.get("Rows Removed by Filter", 0) + node.get("Rows Removed by Index Recheck", 0)
            read += (node["Actual Rows"] + removed) * node["Actual Loops"]
            indexes.add(node.get("Index Name", node["Node Type"]))
    return read, indexes


def test_the_newest_spikes_of_all_symbols_read_as_many_rows_whatever_the_history(db, make_app):
    spikes = [
        candle(symbol, START + n * MINUTE, 1, 100.0, 103.0 if n % 2 else 97.5)
        for n in range(30)
        for symbol in ("AAPL", "MSFT")
    ]
    insert_candles(db, spikes, per_statement=100)
    app = make_app()
    statements = []
    event.listen(app.extensions["db_engine"], "before_cursor_execute", lambda *args: statements.append(args[2:4]))
    rows = app.test_client().get("/api/spikes?window=1m&limit=20").get_json()
    newest = sorted(spikes, key=lambda c: (c["window_start"], c["symbol"]))[-20:]
    assert [(r["symbol"], r["window_start"]) for r in rows] == [
        (c["symbol"], as_json_value(c["window_start"])) for c in newest
    ]
    [(statement, parameters)] = [s for s in statements if "price_spikes" in s[0]]

    def add_calm_candles(count: int, after: int) -> None:
        """`count` 1-minute candles that moved 0.5 %, newer than the spikes, of four symbols."""
        with db.cursor() as cursor:
            cursor.execute(
                "INSERT INTO stock_aggregates (symbol, window_start, window_end, open_price, high_price, low_price,"
                " close_price, avg_price, event_count, first_event_at, last_event_at)"
                " SELECT 'CALM' || i %% 4, t, t + interval '1 minute', 100, 100.5, 100, 100.5, 100.2, 2, t, t"
                " FROM generate_series(%s, %s) i, LATERAL (SELECT %s + (i / 4) * interval '1 minute' AS t) s",
                (after, after + count - 1, START + 30 * MINUTE),
            )
        with db.cursor() as cursor:
            cursor.execute("ANALYZE stock_aggregates")

    add_calm_candles(1_000, after=0)
    read_short, indexes = rows_read(db, statement, parameters)
    add_calm_candles(19_000, after=1_000)
    read_long, _ = rows_read(db, statement, parameters)
    assert read_short == read_long == 20
    assert indexes == {"stock_aggregates_spikes_idx"}


def test_movers_of_the_last_hour_then_of_the_day(client, candles):
    expected = reference.movers(candles)
    rows = client.get("/api/movers?window=1m").get_json()
    for period in ("hour", "day"):
        got = [(r["symbol"], r["change_pct"], r["candles"]) for r in rows if r["period"] == period]
        want = expected[(MINUTE, period)]
        assert [(s, n) for s, _, n in got] == [(s, n) for s, _, n in want]
        assert [c for _, c, _ in got] == pytest.approx([c for _, c, _ in want], rel=1e-12)
    assert [r["period"] for r in rows] == ["hour"] * 2 + ["day"] * 2
    assert [r["rank"] for r in rows] == [1, 2, 1, 2]
    assert client.get("/api/movers?window=1h").get_json() == []


@pytest.mark.parametrize(
    "path, parameter",
    [
        ("/api/indicators?window=1m", "symbol"),
        ("/api/indicators?symbol=AAPL;DROP TABLE x", "symbol"),
        ("/api/indicators?symbol=AAPL&window=2m", "window"),
        ("/api/indicators?symbol=AAPL&limit=0", "limit"),
        ("/api/indicators?symbol=AAPL&since=yesterday", "since"),
        ("/api/spikes?since=2026-13-01", "since"),
        ("/api/spikes?symbol=<b>", "symbol"),
        ("/api/spikes?limit=ten", "limit"),
        ("/api/spikes?window=1d", "window"),
        ("/api/movers?window=", "window"),
    ],
)
def test_bad_parameters_are_400s_naming_them(client, path, parameter):
    response = client.get(path)
    assert response.status_code == 400
    assert response.get_json()["parameter"] == parameter


def test_the_read_only_role_can_read_the_analytics_views(stack, candles, make_app):
    if stack.reader_url is None:
        pytest.skip("the tests did not create a read-only role on this Postgres")
    reader = make_app(DATABASE_URL=stack.reader_url).test_client()
    for path in ("/api/indicators?symbol=AAPL", "/api/spikes", "/api/movers"):
        response = reader.get(path)
        assert response.status_code == 200 and response.get_json(), path
