"""How long to wait before retrying a failed call (pure functions)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped; `attempts` counts every try of one call."""

    attempts: int = 4
    base_seconds: float = 1.0
    max_seconds: float = 30.0


def backoff_delay(attempt: int, policy: RetryPolicy, rng: random.Random, retry_after: float | None = None) -> float:
    """Delay before try number `attempt + 1`: the server's Retry-After when sent, else 2^attempt
    times the base with "equal jitter" (half fixed, half random), never above the cap."""
    if retry_after is not None:
        return max(0.0, retry_after)
    ceiling = min(policy.max_seconds, policy.base_seconds * 2**attempt)
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date; None if absent or odd."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
