"""Finnhub's trade websocket: subscribe, publish each trade with its volume, reconnect on drops."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass

import websocket

from common.contract import build_trade_message, epoch_ms, trade_message_id
from producer.errors import ApiKeyRejected, redact
from producer.publisher import Publisher, build_dead_letter
from producer.retry import RetryPolicy, backoff_delay
from producer.validation import trade_problem

log = logging.getLogger(__name__)

PROGRESS_SECONDS = 10.0
RECONNECT_POLICY = RetryPolicy(attempts=1_000_000, base_seconds=1.0, max_seconds=60.0)


@dataclass
class StreamStats:
    """Counters of a stream source, shown in progress lines and the exit summary."""

    published: int = 0
    rejected: int = 0
    pings: int = 0
    connects: int = 0
    disconnects: int = 0
    callback_errors: int = 0

    def describe(self) -> str:
        """One line of counters."""
        return (
            f"{self.published} trades published, {self.rejected} rejected, {self.pings} pings, "
            f"{self.connects} connects, {self.disconnects} drops, {self.callback_errors} callback errors"
        )


class FinnhubTradeStream:
    """Streams trades for the symbols until stopped; a dropped socket is reopened with backoff."""

    name = "finnhub-ws"

    _publisher: Publisher  # set by run(), which handles every frame

    def __init__(self, symbols, api_key: str, url: str, rng: random.Random | None = None):
        self.symbols = tuple(symbols)
        self._api_key = api_key
        self._url = url
        self._rng = rng or random.Random()
        self._key_rejected = False
        self._close_reason = ""
        self.stats = StreamStats()

    def __repr__(self) -> str:
        return f"FinnhubTradeStream(symbols={self.symbols!r}, url={self._url!r}, api_key=***)"

    def run(self, publisher: Publisher, stop: threading.Event) -> StreamStats:
        """Connect, stream, reconnect; return the counters when `stop` is set."""
        self._publisher = publisher
        attempt = 0
        last_progress = time.monotonic()
        while not stop.is_set():
            connects_before = self.stats.connects
            app = websocket.WebSocketApp(
                f"{self._url}?token={self._api_key}",
                on_open=self._on_open,
                on_message=self._on_message,
                on_error=self._on_error,
                on_close=self._on_close,
            )
            thread = threading.Thread(target=app.run_forever, kwargs={"ping_interval": 30, "ping_timeout": 10})
            thread.start()
            while thread.is_alive() and not stop.wait(0.2):
                if time.monotonic() - last_progress >= PROGRESS_SECONDS:
                    publisher.flush()
                    log.info("websocket: %s", self.stats.describe())
                    last_progress = time.monotonic()
            app.close()
            thread.join(timeout=10)
            if self._key_rejected:
                raise ApiKeyRejected("FINNHUB_API_KEY was rejected by Finnhub's websocket")
            if stop.is_set():
                break
            self.stats.disconnects += 1
            attempt = 0 if self.stats.connects > connects_before else attempt + 1
            delay = backoff_delay(attempt, RECONNECT_POLICY, self._rng)
            log.warning("websocket closed%s; reconnecting in %.1f s", self._close_reason, delay)
            stop.wait(delay)
        return self.stats

    def _on_open(self, ws) -> None:
        self.stats.connects += 1
        self._close_reason = ""
        for symbol in self.symbols:
            ws.send(json.dumps({"type": "subscribe", "symbol": symbol}))
        log.info("websocket connected; subscribed to %s", ",".join(self.symbols))

    def _on_message(self, ws, text) -> None:
        # websocket-client only logs what a callback raises: count and report it here instead.
        try:
            self._handle(text)
        except Exception as exc:
            self.stats.callback_errors += 1
            log.error("websocket message could not be handled: %s", redact(repr(exc), self._api_key)[:300])

    def _handle(self, text) -> None:
        try:
            frame = json.loads(text)
        except (TypeError, ValueError):
            self._reject(None, text, "frame is not JSON")
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "ping":
            self.stats.pings += 1
        elif kind == "trade" and isinstance(frame.get("data"), list):
            self._publish_trades(frame["data"])
        elif kind == "error":
            log.warning("Finnhub websocket error: %s", redact(str(frame.get("msg")), self._api_key)[:300])
        else:
            self._reject(None, text, f"unexpected frame type {str(kind)[:40]!r}")

    def _publish_trades(self, trades: list) -> None:
        now = epoch_ms()
        seen: Counter = Counter()
        for trade in trades:
            problem = trade_problem(trade, now)
            if problem:
                symbol = trade.get("s") if isinstance(trade, dict) else None
                self._reject(symbol if isinstance(symbol, str) else None, trade, problem)
                continue
            identity = (trade["s"], trade["t"], trade["p"], trade.get("v"))
            occurrence = seen[identity]
            seen[identity] += 1
            self._publisher.publish(
                build_trade_message(
                    message_id=trade_message_id(*identity, occurrence),
                    symbol=trade["s"],
                    price=trade["p"],
                    volume=trade.get("v"),
                    event_time_ms=trade["t"],
                    source=self.name,
                    ingested_at_ms=now,
                )
            )
            self.stats.published += 1

    def _reject(self, symbol, raw, reason: str) -> None:
        if isinstance(raw, (str, bytes)):
            raw = redact(raw if isinstance(raw, str) else raw.decode("utf-8", "replace"), self._api_key)
        self._publisher.dead_letter(
            build_dead_letter(source=self.name, symbol=symbol, raw=raw, reason=reason, now_ms=epoch_ms())
        )
        self.stats.rejected += 1
        log.warning("websocket: rejected: %s", reason)

    def _on_error(self, ws, error) -> None:
        status = getattr(error, "status_code", None)
        if status in (401, 403):
            self._key_rejected = True
        self._close_reason = f" ({redact(type(error).__name__ + ': ' + str(error), self._api_key)[:200]})"

    def _on_close(self, ws, status_code, message) -> None:
        if status_code and not self._close_reason:
            self._close_reason = f" (code {status_code})"
