"""Is Kafka or Postgres there at all? Checked once at start, so a missing server is one line, not a traceback."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

CONNECT_TIMEOUT_SECONDS = 3.0
POSTGRES_DEFAULT_PORT = 5432


class ServerUnreachable(RuntimeError):
    """Nothing accepts connections at a server's address; the message says how to start it."""


def require_kafka(bootstrap_servers: str, timeout: float = CONNECT_TIMEOUT_SECONDS) -> None:
    """Raise ServerUnreachable unless one of the bootstrap servers accepts a TCP connection."""
    addresses = [a.strip() for a in bootstrap_servers.split(",") if a.strip()]
    if not any(_accepts(*_host_port(address, default_port=9092), timeout) for address in addresses):
        raise ServerUnreachable(
            f"Kafka at {bootstrap_servers} is not reachable: start it with `make stack`, or set KAFKA_BOOTSTRAP_SERVERS"
        )


def require_postgres(
    database_url: str, variable: str = "DATABASE_URL", timeout: float = CONNECT_TIMEOUT_SECONDS
) -> None:
    """Raise ServerUnreachable unless the URL's host and port accept a TCP connection (no password in the message)."""
    parts = urlsplit(database_url)
    if not parts.hostname:  # a Unix socket: libpq finds it, and reports its own error
        return
    try:
        port = parts.port or POSTGRES_DEFAULT_PORT
    except ValueError:
        raise ServerUnreachable(f"{variable}: the port in the URL is not a port number") from None
    if not _accepts(parts.hostname, port, timeout):
        raise ServerUnreachable(
            f"Postgres at {_join(parts.hostname, port)} is not reachable: start it with `make stack`, or set {variable}"
        )


def _host_port(address: str, default_port: int) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return address, default_port
    return host.strip("[]"), int(port)


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _accepts(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
