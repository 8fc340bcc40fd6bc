"""The serving state kept by the triggers of sql/011 (candle_indicators_state, data_version) against a
real Postgres and the plain-Python reference: exact after statements of several candles, after every
kind of write in one transaction, after two writers of one series at once; one refresh and one new
version per statement."""

import math
import threading
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from devstack.process import wait_until
from reference import analytics as reference
from tests.candles import insert_candles, random_series

START = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
CANDLE_COLUMNS = ("symbol", "window_start", "window_end", "open_price", "close_price")
INDICATORS = ("candle_number", "sma_5", "sma_20", "ema_5", "ema_20", "bollinger_upper", "bollinger_lower")


def table_candles(db) -> list[dict]:
    """The candles stock_aggregates holds."""
    with db.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(CANDLE_COLUMNS)} FROM stock_aggregates")
        return [dict(zip(CANDLE_COLUMNS, row, strict=True)) for row in cursor.fetchall()]


def kept_indicators(db) -> dict[tuple, dict]:
    """{(symbol, window_start, window_end): indicators} of candle_indicators_state."""
    with db.cursor() as cursor:
        cursor.execute(
            f"SELECT symbol, window_start, window_start + window_size, {', '.join(INDICATORS)}"
            " FROM candle_indicators_state"
        )
        return {tuple(row[:3]): dict(zip(INDICATORS, row[3:], strict=True)) for row in cursor.fetchall()}


def assert_kept_state_is_the_reference(db) -> None:
    """candle_indicators_state holds the reference's indicators of the table's candles, no more, no less."""
    expected = reference.indicators(table_candles(db))
    actual = kept_indicators(db)
    assert sorted(actual) == sorted(expected), "different candles"
    wrong = [
        (key[1].isoformat(), column, actual[key][column], value)
        for key, want in sorted(expected.items())
        for column, value in want.items()
        if not (
            math.isclose(actual[key][column], value, rel_tol=1e-9, abs_tol=1e-9)
            if isinstance(value, float)
            else actual[key][column] == value
        )
    ]
    assert not wrong, f"{len(wrong)} wrong values, the first: {wrong[:3]}"


def data_version(connection) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM data_version")
        return cursor.fetchone()[0]


def rewritten(candle: dict, factor: float) -> dict:
    """The candle with another close."""
    return {**candle, "close_price": round(candle["close_price"] * factor, 2)}


def write_in_one_statement(stack, candles: list[dict]) -> tuple[int, int]:
    """Write `candles` in one INSERT ... ON CONFLICT statement and commit: the rows it inserted into
    candle_indicators_state (each refresh inserts every candle it recomputes) and the versions it added."""
    connection = psycopg2.connect(stack.database_url)
    try:
        before = data_version(connection)
        insert_candles(connection, candles, per_statement=len(candles))
        with connection.cursor() as cursor:
            cursor.execute("SELECT n_tup_ins FROM pg_stat_xact_user_tables WHERE relname = 'candle_indicators_state'")
            inserted = cursor.fetchone()[0]
        connection.commit()
        return inserted, data_version(connection) - before
    finally:
        connection.close()


def test_an_upsert_that_updates_and_inserts_refreshes_each_series_once_and_adds_one_version(stack, db):
    series = random_series("AAPL", START, 1, 62, seed=21, gap_every=9)
    hole = series[10]
    insert_candles(db, [c for c in series[:60] if c is not hole], per_statement=100)
    # Rewrites of two older candles and two new candles: the UPDATE trigger's refresh from the older
    # rewrite reads the new ones too, so the INSERT trigger recomputes nothing.
    inserted, versions = write_in_one_statement(
        stack, [rewritten(series[30], 1.02), rewritten(series[50], 0.97), *series[60:62]]
    )
    assert (inserted, versions) == (62 - 30, 1)
    assert_kept_state_is_the_reference(db)

    # A late candle older than the rewritten one, and a new series: the INSERT trigger recomputes
    # those, and only those, still without a second version.
    msft = random_series("MSFT", START, 1, 8, seed=22)
    inserted, versions = write_in_one_statement(stack, [rewritten(series[55], 1.01), hole, *msft])
    assert (inserted, versions) == ((62 - 55) + (62 - 10) + 8, 1)
    assert_kept_state_is_the_reference(db)

    assert write_in_one_statement(stack, [rewritten(series[40], 1.01)]) == (62 - 40, 1)  # updates only
    assert write_in_one_statement(stack, random_series("NVDA", START, 5, 3, seed=23)) == (3, 1)  # inserts only
    assert_kept_state_is_the_reference(db)


def test_every_kind_of_write_in_one_transaction_keeps_the_reference_and_one_version_per_change(stack, db):
    aapl = random_series("AAPL", START, 1, 50, seed=31, gap_every=6)
    msft = random_series("MSFT", START, 5, 12, seed=32)
    copied_columns = (
        "window_start, window_end, open_price, high_price, low_price, close_price, avg_price, price_stddev,"
        " event_count, volume, vwap, first_event_at, last_event_at"
    )
    connection = psycopg2.connect(stack.database_url)
    try:
        before = data_version(connection)
        with connection.cursor() as cursor:
            insert_candles(connection, [*aapl[:20], *msft[:6]], per_statement=100)
            cursor.execute(  # a plain INSERT of a series
                f"INSERT INTO stock_aggregates (symbol, {copied_columns})"
                f" SELECT 'NVDA', {copied_columns} FROM stock_aggregates WHERE symbol = 'AAPL'"
            )
            # an upsert that rewrites an old candle and adds newer ones
            insert_candles(connection, [rewritten(aapl[5], 0.98), *aapl[20:40], *msft[6:]], per_statement=100)
            cursor.execute("UPDATE stock_aggregates SET close_price = 1 WHERE symbol = 'NONE'")  # changes nothing
            cursor.execute(
                "DELETE FROM stock_aggregates WHERE symbol = 'AAPL' AND window_start IN (%s, %s)",
                (aapl[7]["window_start"], aapl[33]["window_start"]),
            )
            cursor.execute(  # an UPDATE that moves a candle (its key) before the series' first
                "UPDATE stock_aggregates SET window_start = window_start - interval '1 hour',"
                " window_end = window_end - interval '1 hour' WHERE symbol = 'MSFT' AND window_start = %s",
                (msft[4]["window_start"],),
            )
            cursor.execute(  # a plain UPDATE of older candles of two series
                "UPDATE stock_aggregates SET close_price = close_price * 1.01"
                " WHERE symbol IN ('AAPL', 'NVDA') AND window_start BETWEEN %s AND %s",
                (START + 3 * MINUTE, START + 9 * MINUTE),
            )
            insert_candles(connection, aapl[40:43])  # then three statements of one newer candle each
        connection.commit()
        assert data_version(connection) - before == 9
    finally:
        connection.close()
    assert_kept_state_is_the_reference(db)

    version = data_version(db)
    with db.cursor() as cursor:
        cursor.execute("TRUNCATE stock_aggregates")
        cursor.execute("SELECT count(*) FROM candle_indicators_state")
        assert cursor.fetchone()[0] == 0
    assert data_version(db) == version + 1
    insert_candles(db, aapl[10:30], per_statement=7)
    assert_kept_state_is_the_reference(db)


def waiting_for_a_lock(db, pid: int) -> bool:
    with db.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT FROM pg_locks WHERE pid = %s AND NOT granted)", (pid,))
        return cursor.fetchone()[0]


@pytest.mark.parametrize("second_write", ["a new candle", "a rewrite of a candle in between"])
def test_two_writers_of_one_series_at_once_leave_the_reference_indicators_and_no_error(stack, db, second_write):
    series = random_series("AAPL", START, 1, 61, seed=41)
    hole = series[10]
    insert_candles(db, [c for c in series[:60] if c is not hole], per_statement=100)
    first = psycopg2.connect(stack.database_url)  # its transaction stays open until it commits below
    second = psycopg2.connect(stack.database_url)
    second.autocommit = True
    errors: list[Exception] = []
    try:
        # One statement: a late fill of an older candle and a rewrite of a newer one, not committed yet.
        insert_candles(first, [hole, rewritten(series[40], 1.02)], per_statement=2)
        other = [series[60]] if second_write == "a new candle" else [rewritten(series[30], 0.98)]

        def write_second():
            try:
                insert_candles(second, other)
            except psycopg2.Error as error:
                errors.append(error)

        writer = threading.Thread(target=write_second)
        second_pid = second.get_backend_pid()
        writer.start()
        # The second writer commits, or waits for a lock the first one holds: either way, it has done
        # all it does before the first one commits.
        wait_until(
            lambda: not writer.is_alive() or waiting_for_a_lock(db, second_pid), 30, "the second writer to wait or end"
        )
        first.commit()
        writer.join(30)
        assert not writer.is_alive()
    finally:
        first.close()
        second.close()
    assert errors == []
    assert_kept_state_is_the_reference(db)
