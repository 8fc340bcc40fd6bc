"""The JSON API: latest rows per symbol, the analytics views (indicators, spikes, movers), one
snapshot of what the page shows, and health. Data answers are shared between viewers (webapp.cache)."""

from __future__ import annotations

import functools
import json
import logging
from datetime import UTC, datetime

from flask import Blueprint, Flask, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from webapp import params, queries
from webapp.cache import AnswerCache
from webapp.db import read_only
from webapp.kept_answers import answer_headers, answer_key

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__)

QUALITY_HOURS = 24
RECENT_SPIKES_LIMIT = 50  # the spike notice compares each answer with the previous one


@bp.errorhandler(params.BadParameter)
def bad_parameter(exc: params.BadParameter):
    """A 400 answer naming the parameter at fault."""
    return jsonify(error=str(exc), parameter=exc.name), 400


@bp.errorhandler(SQLAlchemyError)
def database_unavailable(exc):
    """Any database failure becomes a 503 without internals; the pool reconnects on the next request."""
    log.warning("database error: %s", type(exc).__name__)
    return jsonify(error="the database is unavailable; retry shortly"), 503


def read_version(app: Flask) -> int:
    """The data version the cached answers are keyed on (from any thread)."""
    with app.app_context(), read_only() as connection:
        return queries.data_version(connection)


def as_json_body(answer) -> bytes:
    """An answer's JSON bytes: JSON text as it is, anything else serialized."""
    return (answer if isinstance(answer, queries.JsonText) else current_app.json.dumps(answer)).encode()


def shared_part(key: str, compute) -> queries.JsonText:
    """A part of an answer that several answers hold (the snapshots of every symbol hold the same
    latest rows), computed once per data version like a whole answer."""
    cache: AnswerCache = current_app.extensions["answer_cache"]
    # a part of the version before must not become part of this version's answer
    return queries.JsonText(cache.answer(key, lambda: as_json_body(compute()), previous_allowed=False).body.decode())


def shared(view):
    """An endpoint whose JSON answer is computed once per data version and request, served to every
    viewer from the cache, with an ETag (304 Not Modified when the viewer's copy is current), and
    refreshed ahead of the next poll when the data changes. Server-Timing says how long the answer
    took to compute. Once kept, webapp.kept_answers serves it without reaching this view."""

    @functools.wraps(view)
    def answer_from_cache(*args, **kwargs):
        cache: AnswerCache = current_app.extensions["answer_cache"]
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        key = answer_key(request.path, request.query_string.decode())  # request.full_path

        def recompute() -> bytes:
            with app.test_request_context(key):  # the same request, outside any viewer's
                return as_json_body(view(*args, **kwargs))

        answer = cache.answer(key, lambda: as_json_body(view(*args, **kwargs)), recompute)
        response = current_app.response_class(answer.body, mimetype="application/json")
        response.headers.update(answer_headers(answer))
        return response.make_conditional(request)

    return answer_from_cache


def series_params(symbol=params.symbol) -> tuple:
    """symbol (read with `symbol`), window seconds, limit and since of a request, validated."""
    return (
        symbol(request.args.get("symbol")),
        params.window_seconds(request.args.get("window")),
        params.limit(request.args.get("limit")),
        params.since(request.args.get("since")),
    )


@bp.get("/api/latest")
@shared
def latest():
    """The newest row of the requested window size (default 1m) for every symbol."""
    seconds = params.window_seconds(request.args.get("window"))
    with read_only() as connection:
        return queries.latest_per_symbol(connection, seconds)


@bp.get("/api/aggregates")
@shared
def aggregates():
    """Rows of one symbol and window size in ascending window order (an unknown symbol: [])."""
    series = series_params()
    with read_only() as connection:
        return queries.aggregates_for_symbol(connection, *series)


@bp.get("/api/indicators")
@shared
def indicators():
    """SMA 5/20, EMA 5/20 and Bollinger bands per candle of one symbol and window size, oldest first."""
    series = series_params()
    with read_only() as connection:
        return queries.indicators_for_symbol(connection, *series)


@bp.get("/api/spikes")
@shared
def spikes():
    """Candles of one window size whose close moved >= 2 % from their open, oldest first (symbol optional)."""
    series = series_params(params.optional_symbol)
    with read_only() as connection:
        return queries.spikes(connection, *series)


@bp.get("/api/movers")
@shared
def movers():
    """Symbols ranked by their move over the last hour and the day so far, for one window size."""
    seconds = params.window_seconds(request.args.get("window"))
    with read_only() as connection:
        return queries.top_movers(connection, seconds)


@bp.get("/api/symbols")
@shared
def symbols():
    """Symbols with data, with their newest window."""
    with read_only() as connection:
        return queries.symbols(connection)


@bp.get("/api/quality")
@shared
def quality():
    """Rejected events of the last 24 hours, by reason."""
    with read_only() as connection:
        return queries.quality(connection, QUALITY_HOURS)


@bp.get("/api/snapshot")
@shared
def snapshot():
    """What the page shows, in one answer: the latest rows of the window size, the charted symbol's
    candles (each with its volume and indicators) and spikes, the spikes of the newest hour, the top
    movers, data quality, and the mean events per candle of each size over the newest hour (the
    page's first view).
    The charted symbol is `symbol` when the table has it, else the first symbol of the latest rows.
    The parts every symbol's snapshot holds are one statement, computed once per data version and
    window size; the chart is the other."""
    seconds = params.window_seconds(request.args.get("window"))
    wanted = params.optional_symbol(request.args.get("symbol"))
    limit = params.limit(request.args.get("limit"))
    with read_only() as connection:
        shared = shared_part(
            f"snapshot part shared {seconds}",
            lambda: queries.snapshot_shared(
                connection, seconds, RECENT_SPIKES_LIMIT, QUALITY_HOURS, params.WINDOW_SIZES
            ),
        )
        symbols = [row["symbol"] for row in json.loads(shared)["latest"]]
        charted = wanted if wanted in symbols else (symbols[0] if symbols else None)
        chart = (
            queries.chart(connection, charted, seconds, limit)
            if charted
            else queries.json_object(candles=[], spikes=[])
        )
        return queries.merge_objects(
            queries.json_object(window=request.args.get("window", "1m"), symbol=charted), shared, chart
        )


@bp.get("/healthz")
def healthz():
    """200 when the database answers, with the age of the newest row; 503 when it does not."""
    with read_only() as connection:
        newest = queries.newest_update(connection)
    age = None if newest is None else (datetime.now(UTC) - newest).total_seconds()
    return jsonify(
        status="ok",
        database="reachable",
        newest_row_at=None if newest is None else queries.as_json_value(newest),
        newest_row_age_seconds=None if age is None else round(age, 3),
    )
