"""The analytics views of sql/005-009 against a real Postgres, checked against the plain-Python
computation of reference/analytics.py on seeded candles with gaps and short series."""

import json
import math
from datetime import UTC, datetime, timedelta

import pytest

from devstack.schema import apply_schema
from reference import analytics as reference
from tests.candles import candle, insert_candles, random_series

# Crosses midnight UTC, so "the day so far" and "the last hour" differ.
START = datetime(2026, 11, 19, 23, 10, tzinfo=UTC)


def seeded_candles() -> list[dict]:
    """Series of every shape the views must handle."""
    return [
        *random_series("AAPL", START, 1, 70, seed=1, gap_every=9),  # gaps every 9 candles
        *random_series("AAPL", START - timedelta(minutes=100), 5, 30, seed=2, gap_every=7),
        *random_series("MSFT", START + timedelta(minutes=50), 1, 3, seed=3),  # fewer than 5 candles
        *random_series("NVDA", START + timedelta(minutes=30), 1, 22, seed=4, price=900.0),  # just past 20
        *[candle("FLAT", START + timedelta(minutes=m), 1, 50.0, 50.0) for m in range(25)],  # no variance
    ]


@pytest.fixture
def candles(db):
    rows = seeded_candles()
    insert_candles(db, rows)
    return rows


def view_rows(db, view: str, columns: list[str]) -> dict[tuple, dict]:
    """{(symbol, window_start, window_end): {column: value}} of a view."""
    with db.cursor() as cursor:
        cursor.execute(f"SELECT symbol, window_start, window_end, {', '.join(columns)} FROM {view}")
        return {tuple(row[:3]): dict(zip(columns, row[3:], strict=True)) for row in cursor.fetchall()}


def assert_same(actual: dict[tuple, dict], expected: dict[tuple, dict]) -> None:
    """Same rows; every value equal, floats to 1e-9 relative, nulls where the reference has None."""
    assert sorted(actual) == sorted(expected), "different rows"
    for key, want in expected.items():
        for column, value in want.items():
            got = actual[key][column]
            if isinstance(value, float):
                assert got is not None and math.isclose(got, value, rel_tol=1e-9, abs_tol=1e-9), (
                    f"{key} {column}: {got} != {value}"
                )
            else:
                assert got == value, f"{key} {column}: {got!r} != {value!r}"


def test_moving_averages_and_bands_match_the_reference(db, candles):
    expected = reference.indicators(candles)
    actual = view_rows(db, "candle_indicators", list(next(iter(expected.values()))))
    assert_same(actual, expected)
    flat = [row for key, row in actual.items() if key[0] == "FLAT" and row["sma_20"] is not None]
    assert flat and all(row["bollinger_upper"] == row["bollinger_lower"] == 50.0 for row in flat)


def test_short_series_and_gaps_by_hand(db):
    closes = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]
    # minute 3 is missing: the 5th candle is the one at minute 5
    insert_candles(
        db,
        [
            candle("GAP", START + timedelta(minutes=m), 1, 10.0, c)
            for m, c in zip([0, 1, 2, 4, 5, 6], closes, strict=True)
        ],
    )
    rows = sorted(view_rows(db, "candle_indicators", ["sma_5", "ema_5", "sma_20", "bollinger_upper"]).items())
    assert [r["sma_5"] for _, r in rows] == [None, None, None, None, 12.0, 13.0]
    assert rows[0][1]["ema_5"] == 10.0  # seeded with the first close
    assert rows[1][1]["ema_5"] == pytest.approx(10.0 + (11.0 - 10.0) / 3)
    assert {r["sma_20"] for _, r in rows} == {None} and {r["bollinger_upper"] for _, r in rows} == {None}
    returns = sorted(view_rows(db, "candle_returns", ["previous_close", "return_pct"]).items())
    assert returns[0][1] == {"previous_close": None, "return_pct": None}
    assert returns[3][1]["previous_close"] == 12.0  # across the missing minute
    assert returns[3][1]["return_pct"] == pytest.approx((13 / 12 - 1) * 100)


def test_returns_and_z_scores_match_the_reference(db, candles):
    expected = reference.returns(candles)
    actual = view_rows(db, "candle_returns", ["previous_close", "return_pct", "return_zscore"])
    assert_same(actual, expected)
    assert sum(row["return_zscore"] is not None for row in actual.values()) > 40


def test_spikes_match_the_reference_at_the_default_and_a_set_threshold(db, candles):
    expected = reference.spikes(candles)
    assert 10 < len(expected) < len(candles) / 2
    assert_same(
        view_rows(db, "price_spikes", ["change_pct"]), {key: {"change_pct": change} for key, change in expected.items()}
    )
    with db.cursor() as cursor:
        cursor.execute("SET stocks.spike_threshold_pct = 0.5")
    try:
        lower = reference.spikes(candles, threshold_pct=0.5)
        assert len(lower) > len(expected)
        assert sorted(view_rows(db, "price_spikes", ["change_pct"])) == sorted(lower)
    finally:
        with db.cursor() as cursor:
            cursor.execute("RESET stocks.spike_threshold_pct")


def test_top_movers_match_the_reference(db, candles):
    expected = reference.movers(candles)
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT window_size, period, rank, symbol, change_pct, candles FROM top_movers"
            " ORDER BY window_size, period, rank"
        )
        rows = cursor.fetchall()
    actual = {}
    for size, period, rank, symbol, change, count in rows:
        moves = actual.setdefault((size, period), [])
        assert rank == len(moves) + 1
        moves.append((symbol, change, count))
    assert sorted(actual) == sorted(expected)
    for key, moves in expected.items():
        assert [(s, n) for s, _, n in actual[key]] == [(s, n) for s, _, n in moves], key
        assert [c for _, c, _ in actual[key]] == pytest.approx([c for _, c, _ in moves], rel=1e-12), key
    hour, day = expected[(timedelta(minutes=1), "hour")], expected[(timedelta(minutes=1), "day")]
    # The newest candle starts at 00:26 UTC: its day began 26 minutes before, its hour at 23:26.
    assert {s: n for s, _, n in hour}["AAPL"] > {s: n for s, _, n in day}["AAPL"]
    assert "FLAT" in {s for s, _, _ in hour} and "FLAT" not in {s for s, _, _ in day}  # 23:10-23:34


def plan_nodes(db, sql: str) -> list[dict]:
    """Every node of the query's plan."""
    with db.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    nodes, stack = [], [plan[0]["Plan"]]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node.get("Plans", []))
    return nodes


@pytest.mark.parametrize(
    "sql, marker",
    [
        ("SELECT * FROM candle_indicators WHERE symbol = 'AAPL' AND window_size = interval '1 minute'", "AAPL"),
        ("SELECT * FROM candle_returns WHERE symbol = 'AAPL' AND window_size = interval '1 minute'", "AAPL"),
        ("SELECT * FROM top_movers WHERE window_size = interval '5 minutes'", "00:05:00"),
    ],
)
def test_filters_are_applied_where_the_table_is_read_below_the_window_functions(db, candles, sql, marker):
    conditions = ("Filter", "Index Cond", "Recheck Cond")
    filtering = [n for n in plan_nodes(db, sql) if any(marker in n.get(c, "") for c in conditions)]
    assert filtering, "the filter is not in the plan"
    for node in filtering:
        assert node.get("Relation Name") == "stock_aggregates" or node.get("Index Name", "").startswith(
            "stock_aggregates_"
        ), f"filtered at {node['Node Type']}, above the table"


def test_the_schema_applies_twice(stack, db, candles):
    apply_schema(stack.database_url)
    assert len(view_rows(db, "candle_indicators", ["ema_5"])) == len(candles)
