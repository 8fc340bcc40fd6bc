"""Checks on Finnhub answers before anything reaches the main topic (pure functions)."""

from __future__ import annotations

from common.contract import SYMBOL_PATTERN, is_finite_number

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


def trade_problem(trade, now_ms: int) -> str | None:
    """Why one trade of Finnhub's websocket ({"s", "p", "t", "v", "c"}) cannot be published, or None."""
    if not isinstance(trade, dict):
        return f"trade is not a JSON object but {type(trade).__name__}"
    symbol = trade.get("s")
    if not isinstance(symbol, str) or not SYMBOL_PATTERN.match(symbol):
        return f"trade symbol is not a ticker: {str(symbol)[:40]!r}"
    price = trade.get("p")
    if not is_finite_number(price) or price <= 0:
        return f"trade price is not a finite positive number: {price!r}"
    trade_time = trade.get("t")
    if not isinstance(trade_time, int) or isinstance(trade_time, bool):
        return f"trade time is not an integer: {trade_time!r}"
    if not EARLIEST_QUOTE_SECONDS * 1000 <= trade_time <= now_ms + MAX_CLOCK_SKEW_SECONDS * 1000:
        return f"trade time is not a real time in milliseconds: {trade_time}"
    volume = trade.get("v")
    if volume is not None and (not is_finite_number(volume) or volume < 0):
        return f"trade volume is not a finite number >= 0: {volume!r}"
    return None
