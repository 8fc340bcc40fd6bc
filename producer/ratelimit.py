"""A rate limiter that holds several limits at once ("60 a minute and 30 a second"), exactly.

Each limit keeps the times of its recent calls, so a call is allowed only when no window of that
length would hold more than the limit. A token bucket alone would allow a full bucket plus a
window's refill in one window. Pure: the caller passes the time and does the waiting."""

from __future__ import annotations

from collections import deque


class RateLimiter:
    """No `seconds`-long window holds more than `limit` calls, for every (limit, seconds) given."""

    def __init__(self, limits: list[tuple[int, float]], min_spacing: float = 0.0):
        self._limits = [(limit, seconds, deque()) for limit, seconds in limits]
        self.min_spacing = min_spacing
        self._last_call: float | None = None
        self._paused_until = float("-inf")

    def delay(self, now: float) -> float:
        """Seconds to wait from `now` until the next call is allowed (0 when it is allowed now)."""
        wait = self._paused_until - now
        for limit, seconds, calls in self._limits:
            while calls and calls[0] <= now - seconds:
                calls.popleft()
            if len(calls) >= limit:
                # The limit-th most recent call has to leave the window first.
                wait = max(wait, calls[-limit] + seconds - now)
        if self._last_call is not None:
            wait = max(wait, self._last_call + self.min_spacing - now)
        return max(wait, 0.0)

    def record(self, now: float) -> None:
        """Count a call made at `now`."""
        for _, _, calls in self._limits:
            calls.append(now)
        self._last_call = now

    def pause_until(self, moment: float) -> None:
        """Allow no call before `moment` (the server said the budget is spent)."""
        self._paused_until = max(self._paused_until, moment)

    def used(self, now: float, seconds: float) -> int:
        """Calls made in the last `seconds` (for progress lines)."""
        for _, window, calls in self._limits:
            if window >= seconds:
                return sum(1 for t in calls if t > now - seconds)
        return 0


def finnhub_limiter(per_minute: int, per_second: int, symbols: int) -> RateLimiter:
    """Finnhub's two limits; with more symbols than a second allows, calls are spread evenly."""
    spacing = 60.0 / per_minute if symbols > per_second else 0.0
    return RateLimiter([(per_minute, 60.0), (per_second, 1.0)], min_spacing=spacing)
