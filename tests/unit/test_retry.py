import random
from datetime import UTC, datetime

from producer.retry import RetryPolicy, backoff_delay, parse_retry_after


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    policy, rng = RetryPolicy(base_seconds=1.0, max_seconds=8.0), random.Random(1)
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (6, 8.0)]:
        delays = [backoff_delay(attempt, policy, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 100  # jitter: not all the same


def test_retry_after_wins():
    assert backoff_delay(0, RetryPolicy(), random.Random(), retry_after=7.0) == 7.0


def test_retry_after_header_forms():
    now = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3", now) == 3.0
    assert parse_retry_after("1.5", now) == 1.5
    assert parse_retry_after("Sun, 22 Nov 2026 12:00:10 GMT", now) == 10.0
    assert parse_retry_after("Sun, 22 Nov 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
