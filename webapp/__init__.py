"""The web viewer: a JSON API over stock_aggregates and a live page that polls it."""

from __future__ import annotations

import functools

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from common.settings import load_settings
from webapp import api, db, pages
from webapp.cache import STALE_SECONDS, AnswerCache
from webapp.kept_answers import KeptAnswers

SECURITY_HEADERS = {
    # Scripts only from this app. The chart library styles its canvases inline, and inline
    # styles cannot run code, so style-src allows them.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(config: dict | None = None) -> Flask:
    """Application factory; `config` overrides settings (tests pass DATABASE_URL, POLL_SECONDS,
    ANSWER_STALE_SECONDS: 0 to see every write at once)."""
    app = Flask(__name__)
    app.json = json_provider = DefaultJSONProvider(app)
    json_provider.sort_keys = False  # keep the table's column order in answers
    # Data older than STALE_SECONDS is flagged: market closed, or the pipeline stopped.
    app.config.update(STALE_SECONDS=120)
    if not config or "DATABASE_URL" not in config:
        settings = load_settings()
        # The webapp only reads: a read-only role when one is configured, else the main one.
        app.config.update(
            DATABASE_URL=settings.web_database_url or settings.database_url,
            POLL_SECONDS=settings.web_poll_seconds,
        )
    app.config.setdefault("POLL_SECONDS", 5)
    app.config.setdefault("ANSWER_STALE_SECONDS", STALE_SECONDS)
    app.config.update(config or {})
    db.init_app(app)
    # A page polls every POLL_SECONDS: one that asked within two polls is still watching.
    app.extensions["answer_cache"] = AnswerCache(
        functools.partial(api.read_version, app),
        app.config["ANSWER_STALE_SECONDS"],
        watch_seconds=2 * app.config["POLL_SECONDS"],
    )
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)

    @app.after_request
    def add_security_headers(response):
        response.headers.update(SECURITY_HEADERS)
        return response

    # Flask's documented way to put WSGI middleware in front of the app
    app.wsgi_app = KeptAnswers(  # type: ignore[method-assign]
        app.wsgi_app, app.extensions["answer_cache"], SECURITY_HEADERS
    )
    return app
