"""The database seam of the webapp: one pooled SQLAlchemy engine of read-only sessions."""

from __future__ import annotations

import functools

from flask import Flask, current_app
from sqlalchemy import CursorResult, TextClause, create_engine
from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2
from sqlalchemy.engine import Connection, Engine

from common.settings import libpq_url

# Every session of the webapp is read-only and runs each statement in its own transaction: the
# webapp never writes, and a BEGIN and a ROLLBACK around each request's statements cost two round
# trips (about 1 ms) without making its answers more consistent (each statement of a READ COMMITTED
# transaction takes a new snapshot anyway).
# Postgres's JIT is off: it compiled queries whose cost it overestimated (tables not analyzed yet)
# for ~400 ms each, where the queries themselves take a millisecond.
# Prepared statements keep one generic plan (see execute_prepared); the webapp prepares no other.
SESSION_OPTIONS = (
    "-c timezone=UTC -c statement_timeout=5000 -c jit=off -c default_transaction_read_only=on"
    " -c plan_cache_mode=force_generic_plan"
)
POSITIONAL = PGDialect_psycopg2(paramstyle="numeric_dollar")  # compiles :name parameters as $1, $2…


def build_engine(database_url: str) -> Engine:
    """A small pool that checks connections before use, so the app recovers after a database restart."""
    return create_engine(
        "postgresql+psycopg2://" + libpq_url(database_url).partition("://")[2],
        pool_size=5,
        max_overflow=5,
        pool_pre_ping=True,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3, "options": SESSION_OPTIONS},
    )


def init_app(app: Flask) -> None:
    """Attach the engine to the app."""
    app.extensions["db_engine"] = build_engine(app.config["DATABASE_URL"])


def read_only() -> Connection:
    """A connection of the pool: its statements cannot write."""
    engine: Engine = current_app.extensions["db_engine"]
    return engine.connect()


@functools.cache
def _positional(statement: TextClause) -> tuple[str, tuple[str, ...]]:
    """`statement`'s SQL with its :names as $1, $2… (by SQLAlchemy's compiler), and the names in that order."""
    compiled = statement.compile(dialect=POSITIONAL)
    return str(compiled), tuple(compiled.positiontup or ())


def execute_prepared(connection: Connection, name: str, statement: TextClause, params: dict) -> CursorResult:
    """`statement` run as the prepared statement `name` of the connection's session: Postgres parses,
    rewrites and plans it once per session, then runs that one generic plan with each execution's
    values. Planning each execution cost the snapshot's shared statement 2.5 ms of its 8 (Postgres's
    own choice, plan_cache_mode=auto, kept planning: a custom plan's estimate beat the generic one's,
    though both ran as fast). So only for statements whose best plan does not depend on the values
    (the page's polls: a symbol, a window size, limits). A new session (after a reconnect) prepares
    again: the pool clears a connection's `info` when it replaces the connection."""
    sql, names = _positional(statement)
    prepared: set[str] = connection.connection.info.setdefault("prepared_statements", set())
    if name not in prepared:
        connection.exec_driver_sql(f"PREPARE {name} AS {sql}")
        prepared.add(name)
    arguments = ", ".join(f"%({parameter})s" for parameter in names)
    return connection.exec_driver_sql(f"EXECUTE {name}({arguments})", params)
