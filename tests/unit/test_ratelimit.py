import pytest

from producer.ratelimit import RateLimiter, finnhub_limiter


def simulate(limiter: RateLimiter, calls: int) -> list[float]:
    """Make `calls` calls as fast as the limiter allows, on a simulated clock."""
    now, times = 1000.0, []
    for _ in range(calls):
        now += limiter.delay(now)
        assert limiter.delay(now) == 0
        limiter.record(now)
        times.append(now)
    return times


def most_in_any_window(times: list[float], seconds: float) -> int:
    """The largest number of calls in any half-open window [t, t + seconds)."""
    return max(sum(1 for u in times if t <= u < t + seconds) for t in times)


@pytest.mark.parametrize("symbols, cycles", [(8, 20), (200, 2)])
def test_finnhub_limits_hold_in_every_window(symbols, cycles):
    times = simulate(finnhub_limiter(60, 30, symbols), symbols * cycles)
    assert most_in_any_window(times, 1.0) <= 30
    assert most_in_any_window(times, 60.0) <= 60


def test_eight_symbols_go_out_at_once():
    times = simulate(finnhub_limiter(60, 30, 8), 8)
    assert times[-1] == times[0]


def test_two_hundred_symbols_are_spread_one_a_second():
    times = simulate(finnhub_limiter(60, 30, 200), 200)
    gaps = {round(b - a, 9) for a, b in zip(times, times[1:])}
    assert gaps == {1.0}
    assert times[-1] - times[0] == pytest.approx(199.0)


def test_the_per_second_limit_binds_without_spacing():
    times = simulate(RateLimiter([(30, 1.0)]), 90)
    assert most_in_any_window(times, 1.0) == 30
    assert times[-1] - times[0] == pytest.approx(2.0)


def test_a_pause_from_the_server_delays_the_next_call():
    limiter = RateLimiter([(60, 60.0)])
    limiter.pause_until(1005.0)
    assert limiter.delay(1000.0) == 5.0
    assert limiter.delay(1006.0) == 0.0


def test_used_counts_recent_calls():
    limiter = RateLimiter([(60, 60.0), (30, 1.0)])
    for t in (0.0, 10.0, 59.5, 70.0):
        limiter.record(t)
    assert limiter.used(70.0, 60.0) == 2
