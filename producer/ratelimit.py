"""A rate limiter that holds several limits at once ("60 a minute and 30 a second"), exactly, as the
server counts: by when each call ARRIVES there.

A call arrives somewhere between when it is sent and when its answer (or time-out, or error) comes
back; only those two moments are known here. So a call counts from its send until a full window
after its completion: the next call may be sent only once the limit-th most recent completion is a
window ago, and then no window of arrivals can hold more than the limit, whatever each request's
network delay. A call still in flight counts as completing in the future. A token bucket alone
would allow a full bucket plus a window's refill in one window. Pure: the caller passes the time
and does the waiting."""

from __future__ import annotations

import math
from collections import deque


class RateLimiter:
    """No `seconds`-long window of arrivals holds more than `limit` calls, for every (limit, seconds)."""

    def __init__(self, limits: list[tuple[int, float]], min_spacing: float = 0.0):
        self._limits: list[tuple[int, float, deque[float]]] = [(limit, seconds, deque()) for limit, seconds in limits]
        self.min_spacing = min_spacing
        self._in_flight = 0
        self._last_sent: float | None = None
        self._paused_until = float("-inf")

    @property
    def widest(self) -> tuple[int, float]:
        """The limit with the longest window, as (limit, seconds)."""
        limit, seconds, _ = max(self._limits, key=lambda held: held[1])
        return limit, seconds

    def delay(self, now: float) -> float:
        """Seconds to wait from `now` until the next call may be sent (0: now; inf: until a call ends)."""
        wait = self._paused_until - now
        for limit, seconds, completions in self._limits:
            while completions and completions[0] <= now - seconds:
                completions.popleft()
            if self._in_flight >= limit:
                return math.inf
            if self._in_flight + len(completions) >= limit:
                # The limit-th most recent call (those in flight are the most recent) has to be
                # a full window past its completion, so past its arrival too.
                wait = max(wait, completions[self._in_flight - limit] + seconds - now)
        if self._last_sent is not None:
            wait = max(wait, self._last_sent + self.min_spacing - now)
        return max(wait, 0.0)

    def begin(self, now: float) -> None:
        """A call is sent at `now`: it counts, as in flight, until `end`."""
        self._in_flight += 1
        self._last_sent = now

    def end(self, now: float) -> None:
        """A call's answer, time-out or error came back at `now`: it counts for a window from now."""
        self._in_flight -= 1
        for _, _, completions in self._limits:
            completions.append(now)

    def pause_until(self, moment: float) -> None:
        """Allow no call before `moment` (the server said the budget is spent)."""
        self._paused_until = max(self._paused_until, moment)

    def used(self, now: float, seconds: float) -> int:
        """Calls in flight or completed in the last `seconds` (for progress lines)."""
        for _, window, completions in self._limits:
            if window >= seconds:
                return self._in_flight + sum(1 for t in completions if t > now - seconds)
        return 0


FINNHUB_MINUTE = 60.0


def finnhub_limiter(per_minute: int, per_second: int, symbols: int, minute: float = FINNHUB_MINUTE) -> RateLimiter:
    """Finnhub's two limits; with more symbols than a second allows, calls are spread evenly.
    `minute`: the per-minute limit's window, shortened only by tests (the producer's hidden
    --limit-window flag), so that a minute's budget can be spent and waited out in seconds."""
    spacing = minute / per_minute if symbols > per_second else 0.0
    return RateLimiter([(per_minute, minute), (per_second, 1.0)], min_spacing=spacing)
