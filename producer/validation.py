"""Checks on Finnhub answers before anything reaches the main topic (pure functions)."""

from __future__ import annotations

from common.contract import is_finite_number

# Finnhub's quote time is seconds since the epoch; anything before 2000 or more than a day
# ahead of our clock is not a real observation (an unknown symbol comes back with t = 0).
EARLIEST_QUOTE_SECONDS = 946_684_800
MAX_CLOCK_SKEW_SECONDS = 86_400


def quote_problem(quote, now_seconds: float) -> str | None:
    """Why a Finnhub /quote answer cannot be published, or None when it can."""
    if not isinstance(quote, dict):
        return f"quote is not a JSON object but {type(quote).__name__}"
    price = quote.get("c")
    if price is None:
        return "quote has no price (c is missing or null)"
    if not is_finite_number(price):
        return f"quote price is not a finite number: {price!r}"
    if price <= 0:
        return "quote price is zero or negative (Finnhub's answer for an unknown symbol)"
    quote_time = quote.get("t")
    if not isinstance(quote_time, int) or isinstance(quote_time, bool):
        return f"quote time is not an integer: {quote_time!r}"
    if quote_time < EARLIEST_QUOTE_SECONDS:
        return f"quote time is not a real time: {quote_time}"
    if quote_time > now_seconds + MAX_CLOCK_SKEW_SECONDS:
        return f"quote time is in the future: {quote_time}"
    return None
