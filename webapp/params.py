"""Validation of the API's query parameters (pure functions): a clear 400 names the parameter."""

from __future__ import annotations

from datetime import UTC, datetime

from common.contract import SYMBOL_PATTERN

WINDOW_SIZES = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600}
MAX_LIMIT = 2000


class BadParameter(ValueError):
    """A query parameter is missing or malformed."""

    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.name = name


def window_seconds(value: str | None) -> int:
    """'1m' -> 60; the default is 1m."""
    value = "1m" if value is None else value
    if value not in WINDOW_SIZES:
        raise BadParameter("window", f"must be one of {', '.join(WINDOW_SIZES)}")
    return WINDOW_SIZES[value]


def symbol(value: str | None) -> str:
    """A ticker, upper-cased; required."""
    if not value:
        raise BadParameter("symbol", "is required, e.g. symbol=AAPL")
    value = value.strip().upper()
    if not SYMBOL_PATTERN.match(value):
        raise BadParameter("symbol", "is not a ticker symbol")
    return value


def optional_symbol(value: str | None) -> str | None:
    """A ticker, upper-cased, or None when the parameter is absent."""
    return None if value is None else symbol(value)


def limit(value: str | None, default: int = 200) -> int:
    """How many rows, 1 to MAX_LIMIT."""
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadParameter("limit", "must be a whole number") from None
    if not 1 <= number <= MAX_LIMIT:
        raise BadParameter("limit", f"must be between 1 and {MAX_LIMIT}")
    return number


def since(value: str | None) -> datetime | None:
    """An ISO 8601 time (UTC when no zone is given), or None."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadParameter("since", "must be an ISO 8601 time, e.g. 2026-11-20T14:30:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
