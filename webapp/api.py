"""The JSON API: latest rows per symbol and health."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from flask import Blueprint, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from webapp import queries
from webapp.db import read_only

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__)

WINDOW_SIZES = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600}


def bad_parameter(name: str, message: str):
    """A 400 answer naming the parameter at fault."""
    return jsonify(error=f"{name}: {message}", parameter=name), 400


@bp.errorhandler(SQLAlchemyError)
def database_unavailable(exc):
    """Any database failure becomes a 503 without internals; the pool reconnects on the next request."""
    log.warning("database error: %s", type(exc).__name__)
    return jsonify(error="the database is unavailable; retry shortly"), 503


@bp.get("/api/latest")
def latest():
    """The newest row of the requested window size (default 1m) for every symbol."""
    window = request.args.get("window", "1m")
    if window not in WINDOW_SIZES:
        return bad_parameter("window", f"must be one of {', '.join(WINDOW_SIZES)}")
    with read_only() as connection:
        return jsonify(queries.latest_per_symbol(connection, WINDOW_SIZES[window]))


@bp.get("/healthz")
def healthz():
    """200 when the database answers, with the age of the newest row; 503 when it does not."""
    with read_only() as connection:
        newest = queries.newest_update(connection)
    age = None if newest is None else (datetime.now(timezone.utc) - newest).total_seconds()
    return jsonify(
        status="ok",
        database="reachable",
        newest_row_at=None if newest is None else queries.as_json_value(newest),
        newest_row_age_seconds=None if age is None else round(age, 3),
    )
