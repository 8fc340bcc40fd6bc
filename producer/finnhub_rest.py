"""Polling Finnhub's REST /quote with the official finnhub-python client: limits, retries, dead letters."""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import cast

import finnhub
import requests
from finnhub.exceptions import FinnhubAPIException, FinnhubRequestException

from common.contract import build_quote_message, epoch_ms
from producer.errors import ApiKeyRejected, redact
from producer.publisher import Publisher, build_dead_letter
from producer.ratelimit import FINNHUB_MINUTE, RateLimiter
from producer.retry import RetryPolicy, backoff_delay, parse_retry_after
from producer.source import CycleResult
from producer.validation import quote_problem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """What one call gave: a quote, a retryable failure, or an answer to dead-letter."""

    quote: object = None
    retry_reason: str | None = None
    retry_after: float | None = None
    rate_limited: bool = False
    unusable_reason: str | None = None
    raw: str | None = None


class FinnhubQuoteSource:
    """One cycle = one /quote call per symbol, within Finnhub's limits, retrying while time allows."""

    name = "finnhub"

    def __init__(
        self,
        symbols,
        api_key: str,
        base_url: str,
        limiter: RateLimiter,
        *,
        timeout: float,
        interval: float,
        policy: RetryPolicy = RetryPolicy(),
        rng: random.Random | None = None,
    ):
        self.symbols = tuple(symbols)
        self.interval = interval
        self._api_key = api_key
        self._limiter = limiter
        self._policy = policy
        self._rng = rng or random.Random()
        self._client = finnhub.Client(api_key=api_key)
        self._client.API_URL = base_url.rstrip("/")
        self._client.DEFAULT_TIMEOUT = timeout
        self._timeout = timeout
        self._client._session.hooks["response"].append(self._on_response)
        self._last_response: requests.Response | None = None

    def __repr__(self) -> str:
        return f"FinnhubQuoteSource(symbols={self.symbols!r}, api_key=***)"

    def usage(self) -> str:
        """Calls made in the last minute against the limit, for the cycle's log line."""
        limit, seconds = self._limiter.widest
        window = "minute" if seconds == FINNHUB_MINUTE else f"{seconds:g} s"
        return f"{self._limiter.used(time.monotonic(), seconds)}/{limit} calls in the last {window}"

    def run_cycle(self, publisher: Publisher, stop: threading.Event, deadline: float) -> CycleResult:
        """Poll every symbol once; retries of a symbol stop at `deadline` (the next cycle's start)."""
        result = CycleResult()
        for symbol in self.symbols:
            if stop.is_set():
                break
            self._poll(symbol, publisher, stop, deadline, result)
        return result

    def _poll(self, symbol, publisher, stop, deadline, result: CycleResult) -> None:
        for attempt in range(self._policy.attempts):
            if not self._wait_for_limiter(stop):
                return
            self._limiter.begin(time.monotonic())
            try:
                answer = self._call(symbol)
            finally:  # Finnhub counts the call on arrival, which may be as late as its answer
                self._limiter.end(time.monotonic())
            if answer.retry_reason is None:
                self._deliver(symbol, answer, publisher, result)
                return
            delay = backoff_delay(attempt, self._policy, self._rng, answer.retry_after)
            if attempt + 1 >= self._policy.attempts or time.monotonic() + delay > deadline:
                log.warning("%s: %s; giving up until the next cycle", symbol, answer.retry_reason)
                result.failed += 1
                return
            log.info("%s: %s; retrying in %.1f s", symbol, answer.retry_reason, delay)
            result.retried += 1
            if answer.rate_limited:  # the budget is shared: no symbol calls before the delay ends
                self._limiter.pause_until(time.monotonic() + delay)
            if stop.wait(delay):
                return

    def _deliver(self, symbol, answer: Answer, publisher: Publisher, result: CycleResult) -> None:
        reason = answer.unusable_reason or quote_problem(answer.quote, epoch_ms() / 1000)
        if reason is None:
            quote = cast(dict, answer.quote)  # quote_problem found none: a JSON object
            publisher.publish(build_quote_message(symbol, quote, epoch_ms()))
            result.published += 1
            return
        raw = answer.raw if answer.unusable_reason else answer.quote
        publisher.dead_letter(
            build_dead_letter(source=self.name, symbol=symbol, raw=raw, reason=reason, now_ms=epoch_ms())
        )
        log.warning("%s: rejected: %s", symbol, reason)
        result.rejected += 1

    def _wait_for_limiter(self, stop: threading.Event) -> bool:
        while (wait := self._limiter.delay(time.monotonic())) > 0:
            if stop.wait(wait):
                return False
        return True

    def _call(self, symbol: str) -> Answer:
        try:
            return Answer(quote=self._client.quote(symbol))
        except FinnhubAPIException as exc:
            status = exc.status_code
            if status in (401, 403):
                raise ApiKeyRejected("FINNHUB_API_KEY was rejected by Finnhub") from None
            if status == 429:
                retry_after = parse_retry_after(exc.response.headers.get("Retry-After"))
                return Answer(retry_reason="HTTP 429 (rate limited)", retry_after=retry_after, rate_limited=True)
            if status >= 500:
                return Answer(retry_reason=f"HTTP {status} from Finnhub")
            return Answer(unusable_reason=f"HTTP {status} from Finnhub", raw=self._raw_text())
        except FinnhubRequestException:
            return Answer(unusable_reason="answer is not JSON", raw=self._raw_text())
        except requests.Timeout:
            return Answer(retry_reason=f"no answer within {self._timeout:g} s")
        except requests.RequestException as exc:
            return Answer(retry_reason=f"request failed ({type(exc).__name__})")

    def _raw_text(self) -> str | None:
        if self._last_response is None:
            return None
        return redact(self._last_response.text, self._api_key)

    def _on_response(self, response: requests.Response, *args, **kwargs) -> None:
        self._last_response = response
        # Finnhub tells how many calls are left; when none, wait for its reset time.
        if response.headers.get("X-Ratelimit-Remaining") == "0":
            reset = response.headers.get("X-Ratelimit-Reset")
            try:
                seconds = max(0.0, float(reset) - time.time()) if reset else 1.0
            except ValueError:
                seconds = 1.0
            self._limiter.pause_until(time.monotonic() + min(seconds, 60.0))
