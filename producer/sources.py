"""Where events come from: one polling cycle of the synthetic market or of Finnhub's /quote."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import finnhub
import requests
from finnhub.exceptions import FinnhubAPIException, FinnhubRequestException

from common.contract import build_quote_message, epoch_ms
from producer.publisher import Publisher, build_dead_letter
from producer.synthetic import SyntheticMarket
from producer.validation import quote_problem

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_SECONDS = 10


class ApiKeyRejected(RuntimeError):
    """Finnhub answered 401/403: the key is wrong or lacks access; retrying will not help."""


@dataclass
class CycleResult:
    """What one polling cycle did."""

    published: int = 0
    rejected: int = 0
    failed: int = 0


def redact(text: str, secret: str) -> str:
    """`text` with every occurrence of `secret` masked (request errors quote the URL and its token)."""
    return text.replace(secret, "***") if secret else text


class SyntheticSource:
    """One trade per symbol per cycle from a seeded geometric-Brownian-motion market."""

    name = "synthetic"

    def __init__(self, symbols, seed: int | None = None):
        self.symbols = tuple(symbols)
        self._market = SyntheticMarket(self.symbols, seed)

    def run_cycle(self, publisher: Publisher, stop: threading.Event) -> CycleResult:
        """Publish one trade for every symbol, stamped now."""
        result = CycleResult()
        now = epoch_ms()
        for symbol in self.symbols:
            publisher.publish(self._market.next_trade(symbol, now, now))
            result.published += 1
        return result


class FinnhubQuoteSource:
    """Polls Finnhub's REST /quote for each symbol with the official finnhub-python client."""

    name = "finnhub"

    def __init__(self, symbols, api_key: str, base_url: str):
        self.symbols = tuple(symbols)
        self._api_key = api_key
        self._client = finnhub.Client(api_key=api_key)
        self._client.API_URL = base_url.rstrip("/")
        self._client.DEFAULT_TIMEOUT = REQUEST_TIMEOUT_SECONDS

    def __repr__(self) -> str:
        return f"FinnhubQuoteSource(symbols={self.symbols!r}, api_key=***)"

    def run_cycle(self, publisher: Publisher, stop: threading.Event) -> CycleResult:
        """Fetch, validate and publish one quote per symbol; rejects go to the dead-letter topic."""
        result = CycleResult()
        for symbol in self.symbols:
            if stop.is_set():
                break
            quote = self._fetch(symbol, result)
            if quote is None:
                continue
            problem = quote_problem(quote, epoch_ms() / 1000)
            if problem:
                publisher.dead_letter(
                    build_dead_letter(
                        source=self.name, symbol=symbol, raw=quote, reason=problem, now_ms=epoch_ms()
                    )
                )
                result.rejected += 1
                log.warning("%s: rejected quote: %s", symbol, problem)
                continue
            publisher.publish(build_quote_message(symbol, quote, epoch_ms()))
            result.published += 1
        return result

    def _fetch(self, symbol: str, result: CycleResult):
        try:
            return self._client.quote(symbol)
        except FinnhubAPIException as exc:
            if exc.status_code in (401, 403):
                raise ApiKeyRejected("FINNHUB_API_KEY was rejected by Finnhub") from None
            log.warning("%s: Finnhub answered HTTP %s", symbol, exc.status_code)
        except FinnhubRequestException as exc:
            log.warning("%s: unusable answer: %s", symbol, redact(str(exc), self._api_key)[:200])
        except requests.RequestException as exc:
            log.warning("%s: request failed: %s", symbol, redact(str(exc), self._api_key)[:300])
        result.failed += 1
        return None
