"""The analytics on the live page, in headless Chromium against the real app and Postgres: overlay
series (SMA, EMA, Bollinger) and spike markers on the chart follow the table, each overlay switches
on and off, the top-movers panel ranks the symbols, and a new spike raises a notice."""

import math
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from reference import analytics as reference
from tests.candles import candle, insert_candles, random_series

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
MINUTE = timedelta(minutes=1)


def assert_overlay(chart, key: str, points: int, last: float) -> None:
    """The overlay series `key` holds `points` points, the newest equal to `last`."""
    expect(chart).to_have_attribute(f"data-{key}-points", str(points))
    assert math.isclose(float(chart.get_attribute(f"data-{key}-last")), last, rel_tol=1e-9), key


def newest_indicators(candles: list[dict]) -> dict:
    """The reference indicators of the newest AAPL 1-minute candle."""
    expected = reference.indicators(candles)
    return expected[max(k for k in expected if k[0] == "AAPL")]


def test_overlays_markers_movers_and_spike_notice_follow_the_table(db, served_app, page, artifacts):
    aapl = random_series("AAPL", NOW - 40 * MINUTE, 1, 24, seed=21, gap_every=8)
    candles = [*aapl, *random_series("MSFT", NOW - 10 * MINUTE, 1, 6, seed=22, price=420.0)]
    insert_candles(db, candles)
    console_errors = []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)

    page.goto(served_app)
    chart = page.locator("#chart")
    expect(chart).to_have_attribute("data-candles", "24")
    expect(chart).to_have_attribute("data-overlays", "sma20 ema20 bollinger")
    want = newest_indicators(candles)
    assert_overlay(chart, "sma20", 5, want["sma_20"])  # 24 candles: SMA 20 from the 20th on
    assert_overlay(chart, "ema20", 24, want["ema_20"])
    assert_overlay(chart, "bollinger", 5, want["bollinger_upper"])
    assert_overlay(chart, "sma5", 20, want["sma_5"])  # drawn while switched off, so it shows at once
    spikes = [k for k in reference.spikes(candles) if k[0] == "AAPL"]
    expect(chart).to_have_attribute("data-spike-markers", str(len(spikes)))
    movers = reference.movers(candles)[(MINUTE, "hour")]
    expect(page.locator("#movers-hour li")).to_have_count(len(movers))
    expect(page.locator("#movers-hour li").first).to_have_attribute("data-symbol", movers[0][0])
    expect(page.locator("#movers-hour li").first).to_contain_text(f"{movers[0][1]:+.2f}%")
    expect(page.locator("#spike-notice")).to_be_hidden()  # spikes already there are not news

    spike = candle("AAPL", aapl[-1]["window_start"] + MINUTE, 1, 100.0, 103.0)
    candles.append(spike)
    insert_candles(db, [spike])
    expect(chart).to_have_attribute("data-candles", "25")
    want = newest_indicators(candles)
    assert_overlay(chart, "sma20", 6, want["sma_20"])
    assert_overlay(chart, "ema20", 25, want["ema_20"])
    assert_overlay(chart, "bollinger", 6, want["bollinger_upper"])
    expect(chart).to_have_attribute("data-spike-markers", str(len(spikes) + 1))
    expect(page.locator("#spike-notice")).to_be_visible()
    expect(page.locator("#spike-notice")).to_contain_text("Spike: AAPL +3.00% in the 1m candle")

    page.uncheck("#overlays input[data-overlay='bollinger']")
    expect(chart).to_have_attribute("data-overlays", "sma20 ema20")
    page.uncheck("#overlays input[data-overlay='ema20']")
    page.check("#overlays input[data-overlay='sma5']")
    expect(chart).to_have_attribute("data-overlays", "sma5 sma20")
    for key in ("ema5", "ema20", "bollinger"):
        page.check(f"#overlays input[data-overlay='{key}']")
    expect(chart).to_have_attribute("data-overlays", "sma5 sma20 ema5 ema20 bollinger")
    page.screenshot(path=str(artifacts / "analytics-page.png"), full_page=True)

    page.click("#movers-hour li[data-symbol='MSFT']")
    expect(page.locator("#chart-title")).to_have_text("MSFT · 1m candles")
    expect(chart).to_have_attribute("data-sma20-points", "0")  # 6 candles: no SMA 20 yet
    assert console_errors == []
