"""The analytics endpoints (/api/indicators, /api/spikes, /api/movers) against a real Postgres seeded
per test, checked against the plain-Python reference of the views."""

import math
from datetime import UTC, datetime, timedelta

import pytest

from reference import analytics as reference
from tests.candles import insert_candles, random_series
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
