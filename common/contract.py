"""The Kafka message contract (DESIGN.md): one definition for the producer and the streaming job."""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from typing import TypeGuard

SOURCES = ("finnhub", "finnhub-ws", "synthetic", "replay")

# Upper-case tickers, with the dots, dashes and exchange prefixes some markets use (BRK.B, BINANCE:BTCUSDT).
SYMBOL_PATTERN = re.compile(r"^[A-Z][A-Z0-9.\-:]{0,19}$")


@dataclass(frozen=True)
class Field:
    """One field of a contract message: its JSON name, value type and whether it must be present."""

    name: str
    kind: str  # "string", "double" or "long"
    required: bool


MESSAGE_FIELDS = (
    Field("id", "string", True),
    Field("symbol", "string", True),
    Field("price", "double", True),
    Field("volume", "double", False),
    Field("event_time", "long", True),
    Field("source", "string", True),
    Field("ingested_at", "long", True),
    Field("open", "double", False),
    Field("high", "double", False),
    Field("low", "double", False),
    Field("prev_close", "double", False),
)

REQUIRED_FIELDS = tuple(f.name for f in MESSAGE_FIELDS if f.required)

# Finnhub quote keys and the message fields they become (besides `c`, the price).
QUOTE_EXTRAS = {"o": "open", "h": "high", "l": "low", "pc": "prev_close"}


def epoch_ms() -> int:
    """Wall-clock time in epoch milliseconds, the unit of event_time and ingested_at."""
    return time.time_ns() // 1_000_000


def quote_message_id(symbol: str, quote_time_seconds: int) -> str:
    """Identity of a REST quote: the same quote fetched twice gives the same id."""
    return f"{symbol}:q:{quote_time_seconds}"


def synthetic_message_id(symbol: str, time_ms: int, sequence: int) -> str:
    """Identity of a synthetic trade: the market's sequence number makes each one distinct."""
    return f"{symbol}:s:{time_ms}:{sequence}"


def replay_message_id(symbol: str, time_ms: int, line: int) -> str:
    """Identity of a trade read from a CSV file: its line, so replaying the file again gives the same ids."""
    return f"{symbol}:r:{time_ms}:{line}"


def trade_message_id(symbol: str, time_ms: int, price: float, volume, occurrence: int) -> str:
    """Identity of a websocket trade, which has no id of its own: what it says, plus how many equal
    trades came before it in the same frame, so genuinely repeated trades stay distinct."""
    return f"{symbol}:t:{time_ms}:{price!r}:{volume!r}:{occurrence}"


def build_quote_message(symbol: str, quote: dict, ingested_at_ms: int) -> dict:
    """Turn a validated Finnhub /quote answer into a contract message."""
    message = {
        "id": quote_message_id(symbol, int(quote["t"])),
        "symbol": symbol,
        "price": float(quote["c"]),
        "volume": None,
        "event_time": int(quote["t"]) * 1000,
        "source": "finnhub",
        "ingested_at": ingested_at_ms,
    }
    for key, name in QUOTE_EXTRAS.items():
        value = quote.get(key)
        message[name] = float(value) if is_finite_number(value) else None
    return message


def build_trade_message(
    *,
    message_id: str,
    symbol: str,
    price: float,
    volume: float | None,
    event_time_ms: int,
    source: str,
    ingested_at_ms: int,
) -> dict:
    """A contract message for one trade or tick."""
    return {
        "id": message_id,
        "symbol": symbol,
        "price": float(price),
        "volume": None if volume is None else float(volume),
        "event_time": int(event_time_ms),
        "source": source,
        "ingested_at": int(ingested_at_ms),
    }


def encode_message(message: dict) -> bytes:
    """The Kafka value of a message: compact UTF-8 JSON (NaN and infinities are refused)."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False).encode("utf-8")


def encode_key(message: dict) -> bytes:
    """The Kafka key of a message: its symbol, so one symbol's events stay in order on one partition."""
    return message["symbol"].encode("utf-8")


def is_finite_number(value: object) -> TypeGuard[int | float]:
    """True for an int or float that is finite (bools are not numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def message_problem(message) -> str | None:
    """Why a decoded value is not a valid contract message, or None when it is."""
    if not isinstance(message, dict):
        return "not a JSON object"
    for field in MESSAGE_FIELDS:
        value = message.get(field.name)
        if value is None:
            if field.required:
                return f"missing field {field.name}"
            continue
        if field.kind == "string" and not isinstance(value, str):
            return f"{field.name} is not a string"
        if field.kind == "long" and (not isinstance(value, int) or isinstance(value, bool)):
            return f"{field.name} is not an integer"
        if field.kind == "double" and not is_finite_number(value):
            return f"{field.name} is not a finite number"
    if not SYMBOL_PATTERN.match(message["symbol"]):
        return f"not a ticker symbol: {message['symbol'][:40]!r}"
    if message["price"] <= 0:
        return "price is not positive"
    if message["source"] not in SOURCES:
        return f"unknown source {message['source']!r}"
    return None
