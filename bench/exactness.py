"""Checks a result table against the independent plain-Python reference (reference/)."""

from __future__ import annotations

import psycopg2

from common.settings import libpq_url
from reference.aggregates import assert_rows_match, table_rows


def check_table(database_url: str, expected: dict) -> dict:
    """{"exact": bool, "rows": n, "problem": text}: does stock_aggregates equal the reference?"""
    connection = psycopg2.connect(libpq_url(database_url))
    try:
        actual = table_rows(connection)
    finally:
        connection.close()
    try:
        assert_rows_match(actual, expected)
    except AssertionError as exc:
        return {"exact": False, "rows": len(actual), "problem": str(exc)[:300]}
    return {"exact": True, "rows": len(actual), "problem": None}


def empty_tables(database_url: str) -> None:
    """Start a measurement from empty tables."""
    connection = psycopg2.connect(libpq_url(database_url))
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE stock_aggregates, stock_window_state, rejected_events, streaming_batches")
    finally:
        connection.close()
