"""Applies the numbered, idempotent files of sql/ to a database."""

from __future__ import annotations

from pathlib import Path

import psycopg2
from psycopg2 import sql

from common.settings import REPO_ROOT, libpq_url

SQL_DIR = REPO_ROOT / "sql"


def schema_files(sql_dir: Path = SQL_DIR) -> list[Path]:
    """The schema files in the order they apply: 001_..., 002_..., (examples.sql is not one)."""
    return sorted(p for p in sql_dir.glob("[0-9][0-9][0-9]_*.sql"))


def apply_schema(database_url: str, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply every schema file in one transaction; return their names."""
    connection = psycopg2.connect(libpq_url(database_url))
    try:
        with connection, connection.cursor() as cursor:
            for path in schema_files(sql_dir):
                cursor.execute(path.read_text())
    finally:
        connection.close()
    return [p.name for p in schema_files(sql_dir)]


def grant_read_only(database_url: str, reader: str) -> None:
    """Let `reader` read every table and view, now and later, and nothing else (run as the owner)."""
    connection = psycopg2.connect(libpq_url(database_url))
    try:
        with connection, connection.cursor() as cursor:
            role = sql.Identifier(reader)
            cursor.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
            cursor.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(role))
            cursor.execute(
                sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {}").format(role)
            )
    finally:
        connection.close()
