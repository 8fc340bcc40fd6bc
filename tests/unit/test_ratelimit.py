import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producer.ratelimit import RateLimiter, finnhub_limiter
from tests.helpers import most_in_any_window


def simulate(limiter: RateLimiter, calls: int, latency=lambda n: 0.0) -> list[tuple[float, float]]:
    """Make `calls` calls one after another as fast as the limiter allows, on a simulated clock;
    call n takes `latency(n)` seconds to come back. (sent, completed) of each call."""
    now, calls_made = 1000.0, []
    for n in range(calls):
        now += limiter.delay(now)
        assert limiter.delay(now) == 0
        limiter.begin(now)
        sent, now = now, now + latency(n)
        limiter.end(now)
        calls_made.append((sent, now))
    return calls_made


@pytest.mark.parametrize("symbols, cycles", [(8, 20), (200, 2)])
def test_finnhub_limits_hold_in_every_window(symbols, cycles):
    sent = [s for s, _ in simulate(finnhub_limiter(60, 30, symbols), symbols * cycles)]
    assert most_in_any_window(sent, 1.0) == (30 if symbols < 30 else 1)
    assert most_in_any_window(sent, 60.0) == 60


def test_a_shortened_minute_holds_the_same_limits_in_its_window():
    """The tests' hook (the producer's hidden --limit-window): the per-minute limit over a shorter window."""
    sent = [s for s, _ in simulate(finnhub_limiter(60, 30, 30, minute=5.0), 90)]
    assert most_in_any_window(sent, 1.0) == 30
    assert most_in_any_window(sent, 5.0) == 60
    assert sent[60] - sent[0] == pytest.approx(5.0)


@given(
    latencies=st.lists(st.floats(0.0, 2.0), min_size=1, max_size=40),
    arrive_at=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=40),
)
def test_no_window_of_arrivals_exceeds_a_limit_whatever_the_network_delay(latencies, arrive_at):
    limiter = RateLimiter([(6, 60.0), (3, 1.0)])
    calls = simulate(limiter, 20, latency=lambda n: latencies[n % len(latencies)])
    # The server sees a call at any moment between its send and its answer's return.
    arrivals = [s + (c - s) * arrive_at[n % len(arrive_at)] for n, (s, c) in enumerate(calls)]
    assert most_in_any_window(arrivals, 1.0) <= 3
    assert most_in_any_window(arrivals, 60.0) <= 6


def test_the_next_call_waits_a_window_from_the_completion_not_the_send():
    limiter = RateLimiter([(2, 1.0)])
    limiter.begin(0.0)
    limiter.end(0.4)  # sent at 0, answered at 0.4: it may have reached the server at 0.4
    limiter.begin(0.4)
    limiter.end(0.5)
    assert limiter.delay(0.5) == pytest.approx(0.9)
    assert limiter.delay(1.4) == 0.0


def test_calls_in_flight_count_until_they_end():
    limiter = RateLimiter([(2, 1.0)])
    limiter.begin(0.0)
    assert limiter.delay(0.0) == 0.0
    limiter.begin(0.0)
    assert limiter.delay(5.0) == math.inf  # both may still arrive: no third until one ends
    limiter.end(5.0)
    assert limiter.delay(5.0) == 1.0  # the one in flight and the one just ended fill the window
    assert limiter.used(5.0, 1.0) == 2


def test_eight_symbols_go_out_at_once():
    calls = simulate(finnhub_limiter(60, 30, 8), 8)
    assert calls[-1][0] == calls[0][0]


def test_two_hundred_symbols_are_spread_one_a_second():
    sent = [s for s, _ in simulate(finnhub_limiter(60, 30, 200), 200)]
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(sent)}
    assert gaps == {1.0}
    assert sent[-1] - sent[0] == pytest.approx(199.0)


def test_the_per_second_limit_binds_without_spacing():
    sent = [s for s, _ in simulate(RateLimiter([(30, 1.0)]), 90)]
    assert most_in_any_window(sent, 1.0) == 30
    assert sent[-1] - sent[0] == pytest.approx(2.0)


def test_a_pause_from_the_server_delays_the_next_call():
    limiter = RateLimiter([(60, 60.0)])
    limiter.pause_until(1005.0)
    assert limiter.delay(1000.0) == 5.0
    assert limiter.delay(1006.0) == 0.0


def test_used_counts_recent_calls():
    limiter = RateLimiter([(60, 60.0), (30, 1.0)])
    for t in (0.0, 10.0, 59.5, 70.0):
        limiter.begin(t)
        limiter.end(t)
    assert limiter.used(70.0, 60.0) == 2
