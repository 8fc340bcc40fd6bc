"""The live page in a real headless Chromium (Debian's), driven by Playwright, against the real app
and Postgres: rows inserted into the table show up on the page without a reload."""

from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

NOW = datetime.now(UTC).replace(second=0, microsecond=0)


def upsert(db, symbol, start, minutes, open_, close, volume=100.0):
    with db.cursor() as cursor:
        cursor.execute(
            "INSERT INTO stock_aggregates (symbol, window_start, window_end, open_price, high_price, low_price,"
            " close_price, avg_price, price_stddev, event_count, volume, vwap, first_event_at, last_event_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0.2, 4, %s, %s, %s, %s)"
            " ON CONFLICT (symbol, window_start, window_end) DO UPDATE SET close_price = EXCLUDED.close_price,"
            " high_price = EXCLUDED.high_price, updated_at = now()",
            (
                symbol,
                start,
                start + timedelta(minutes=minutes),
                open_,
                max(open_, close) + 1,
                min(open_, close) - 1,
                close,
                (open_ + close) / 2,
                volume,
                (open_ + close) / 2,
                start,
                start + timedelta(seconds=30),
            ),
        )


def test_the_page_follows_the_table_without_reloading(db, served_app, page, artifacts):
    for minute in range(3):
        upsert(db, "AAPL", NOW - timedelta(minutes=3 - minute), 1, 230 + minute, 230.5 + minute)
    upsert(db, "MSFT", NOW - timedelta(minutes=1), 1, 420, 419)
    upsert(db, "AAPL", NOW - timedelta(minutes=5), 5, 229, 232)
    with db.cursor() as cursor:
        cursor.execute(
            "INSERT INTO rejected_events (topic, partition, kafka_offset, raw_value, reason)"
            " VALUES ('t', 0, 1, '<img src=x onerror=alert(1)>', 'not a valid JSON object')"
        )
    console_errors = []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)

    page.goto(served_app)
    page.evaluate("window.notReloaded = true")
    rows, chart = page.locator("#latest tbody tr"), page.locator("#chart")
    expect(rows).to_have_count(2)
    expect(chart).to_have_attribute("data-candles", "3")
    expect(page.locator("#chart-title")).to_have_text("AAPL · 1m candles")
    expect(page.locator("#quality")).to_have_text("1 rejected event in the last 24 h")
    assert page.locator("#chart canvas").count() > 0

    upsert(db, "AAPL", NOW, 1, 233, 234)  # a new candle
    expect(chart).to_have_attribute("data-candles", "4")
    upsert(db, "AAPL", NOW, 1, 233, 236.5)  # the newest candle keeps forming
    expect(chart).to_have_attribute("data-last-close", "236.5")
    expect(rows.first).to_contain_text("236.50")

    page.click("#latest tbody tr[data-symbol='MSFT']")
    expect(page.locator("#chart-title")).to_have_text("MSFT · 1m candles")
    expect(chart).to_have_attribute("data-candles", "1")

    page.select_option("#window", "5m")
    expect(rows).to_have_count(1)
    expect(page.locator("#latest tbody td.symbol")).to_have_text("AAPL")
    expect(page.locator("#chart-title")).to_have_text("AAPL · 5m candles")  # MSFT has no 5m rows
    expect(chart).to_have_attribute("data-candles", "1")

    page.screenshot(path=str(artifacts / "live-page.png"), full_page=True)

    expect(page.locator("#freshness")).to_contain_text("data is stale", timeout=30_000)
    assert page.evaluate("window.notReloaded") is True
    assert console_errors == []


def test_markup_in_the_data_is_shown_as_text(db, served_app, page):
    upsert(db, "<B>X", NOW, 1, 1, 2)
    page.goto(served_app)
    expect(page.locator("#latest tbody td.symbol")).to_have_text("<B>X")
    assert page.locator("#latest b").count() == 0


def test_the_chart_draws_at_phone_width(db, served_app, page):
    upsert(db, "AAPL", NOW - timedelta(minutes=1), 1, 1, 2)
    upsert(db, "AAPL", NOW, 1, 2, 3)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(served_app)
    expect(page.locator("#chart")).to_have_attribute("data-candles", "2")
    widths = page.locator("#chart canvas").evaluate_all(
        "canvases => canvases.map(c => c.getBoundingClientRect().width)"
    )
    assert max(widths) > 200  # the candle pane, not only the price scale
