"""The JSON API: latest rows per symbol, the analytics views (indicators, spikes, movers) and health."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from flask import Blueprint, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from webapp import params, queries
from webapp.db import read_only

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__)

QUALITY_HOURS = 24


@bp.errorhandler(params.BadParameter)
def bad_parameter(exc: params.BadParameter):
    """A 400 answer naming the parameter at fault."""
    return jsonify(error=str(exc), parameter=exc.name), 400


@bp.errorhandler(SQLAlchemyError)
def database_unavailable(exc):
    """Any database failure becomes a 503 without internals; the pool reconnects on the next request."""
    log.warning("database error: %s", type(exc).__name__)
    return jsonify(error="the database is unavailable; retry shortly"), 503


def series_params(symbol=params.symbol) -> tuple:
    """symbol (read with `symbol`), window seconds, limit and since of a request, validated."""
    return (
        symbol(request.args.get("symbol")),
        params.window_seconds(request.args.get("window")),
        params.limit(request.args.get("limit")),
        params.since(request.args.get("since")),
    )


@bp.get("/api/latest")
def latest():
    """The newest row of the requested window size (default 1m) for every symbol."""
    seconds = params.window_seconds(request.args.get("window"))
    with read_only() as connection:
        return jsonify(queries.latest_per_symbol(connection, seconds))


@bp.get("/api/aggregates")
def aggregates():
    """Rows of one symbol and window size in ascending window order (an unknown symbol: [])."""
    series = series_params()
    with read_only() as connection:
        return jsonify(queries.aggregates_for_symbol(connection, *series))


@bp.get("/api/indicators")
def indicators():
    """SMA 5/20, EMA 5/20 and Bollinger bands per candle of one symbol and window size, oldest first."""
    series = series_params()
    with read_only() as connection:
        return jsonify(queries.indicators_for_symbol(connection, *series))


@bp.get("/api/spikes")
def spikes():
    """Candles of one window size whose close moved >= 2 % from their open, oldest first (symbol optional)."""
    series = series_params(params.optional_symbol)
    with read_only() as connection:
        return jsonify(queries.spikes(connection, *series))


@bp.get("/api/movers")
def movers():
    """Symbols ranked by their move over the last hour and the day so far, for one window size."""
    seconds = params.window_seconds(request.args.get("window"))
    with read_only() as connection:
        return jsonify(queries.top_movers(connection, seconds))


@bp.get("/api/symbols")
def symbols():
    """Symbols with data, with their newest window."""
    with read_only() as connection:
        return jsonify(queries.symbols(connection))


@bp.get("/api/quality")
def quality():
    """Rejected events of the last 24 hours, by reason."""
    with read_only() as connection:
        reasons = queries.rejects_by_reason(connection, QUALITY_HOURS)
    return jsonify(hours=QUALITY_HOURS, rejected=sum(r["events"] for r in reasons), reasons=reasons)


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
