"""The database seam of the webapp: one pooled SQLAlchemy engine, read-only connections."""

from __future__ import annotations

from flask import Flask, current_app
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine

from common.settings import libpq_url


def build_engine(database_url: str) -> Engine:
    """A small pool that checks connections before use, so the app recovers after a database restart.
    Postgres's JIT is off: it compiled queries whose cost it overestimated (tables not analyzed yet)
    for ~400 ms each, where the queries themselves take a millisecond."""
    return create_engine(
        "postgresql+psycopg2://" + libpq_url(database_url).partition("://")[2],
        pool_size=5,
        max_overflow=5,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 3, "options": "-c timezone=UTC -c statement_timeout=5000 -c jit=off"},
    )


def init_app(app: Flask) -> None:
    """Attach the engine to the app."""
    app.extensions["db_engine"] = build_engine(app.config["DATABASE_URL"])


def read_only() -> Connection:
    """A connection whose transactions cannot write."""
    engine: Engine = current_app.extensions["db_engine"]
    return engine.connect().execution_options(postgresql_readonly=True)
