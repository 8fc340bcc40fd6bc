"""The producer's own errors, and keeping the API key out of what it writes."""

from __future__ import annotations


class ApiKeyRejected(RuntimeError):
    """Finnhub refused the key (HTTP 401/403, or the websocket's equivalent): retrying will not help."""


def redact(text: str, secret: str) -> str:
    """`text` with every occurrence of `secret` masked (request errors quote the URL and its token)."""
    return text.replace(secret, "***") if secret else text
