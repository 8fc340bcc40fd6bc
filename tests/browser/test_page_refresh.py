"""How the live page refreshes, in a real headless Chromium against the real app and Postgres: one
refresh at a time, each of one window size; the API's error text shown; the table alive without the
chart library; a first view whose candles hold more than one event, and the user's choice kept."""

from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from devstack.process import wait_until

NOW = datetime.now(UTC).replace(second=0, microsecond=0)

# Every fetch of the page is counted, and its answer held back `window.slowAnswersMs` (a slow
# network): longer than the poll interval, so a page that started refreshes on a timer would overlap
# them. Each render is recorded as (the table's window size, the chart's title).
SLOW_NETWORK = """
window.slowAnswersMs = 0;
window.fetches = {inFlight: 0, most: 0, urls: []};
const realFetch = window.fetch;
window.fetch = async (...args) => {
  const f = window.fetches;
  f.inFlight += 1;
  f.most = Math.max(f.most, f.inFlight);
  f.urls.push(String(args[0]));
  try {
    const answer = await realFetch(...args);
    await new Promise((done) => setTimeout(done, window.slowAnswersMs));
    return answer;
  } finally {
    f.inFlight -= 1;
  }
};
window.renders = [];
document.addEventListener("DOMContentLoaded", () => {
  const table = document.getElementById("latest");
  const title = document.getElementById("chart-title");
  new MutationObserver(() => window.renders.push([table.dataset.window, title.textContent]))
    .observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true,
                             attributeFilter: ["data-window"]});
});
"""


def insert(db, symbol, start, minutes, close, events=4):
    with db.cursor() as cursor:
        cursor.execute(
            "INSERT INTO stock_aggregates (symbol, window_start, window_end, open_price, high_price, low_price,"
            " close_price, avg_price, price_stddev, event_count, volume, vwap, first_event_at, last_event_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0.1, %s, 100, %s, %s, %s)",
            (
                symbol,
                start,
                start + timedelta(minutes=minutes),
                close - 0.5,
                close + 1,
                close - 1,
                close,
                close,
                events,
                close,
                start,
                start + timedelta(seconds=30),
            ),
        )


def seed_two_sizes(db, one_minute_events=4):
    for minute in range(3):
        insert(db, "AAPL", NOW - timedelta(minutes=3 - minute), 1, 230 + minute, one_minute_events)
    insert(db, "MSFT", NOW - timedelta(minutes=1), 1, 420, one_minute_events)
    insert(db, "AAPL", NOW - timedelta(minutes=5), 5, 232, 5 * one_minute_events)


def test_one_refresh_at_a_time_each_showing_one_window_size(db, served_app, page):
    seed_two_sizes(db)
    page.add_init_script(SLOW_NETWORK)
    page.goto(served_app)
    expect(page.locator("#latest tbody tr")).to_have_count(2)
    page.evaluate("window.slowAnswersMs = 1500")  # the page polls every second (served_app)
    # (the page's CSP forbids eval, so conditions on page state are polled with evaluate)
    wait_until(lambda: page.evaluate("window.fetches.inFlight") == 1, 10, "a refresh in flight", interval=0.05)

    page.select_option("#window", "5m")  # while a 1m refresh is in flight

    expect(page.locator("#chart-title")).to_have_text("AAPL · 5m candles", timeout=10_000)
    expect(page.locator("#latest tbody tr")).to_have_count(1)
    asked = page.evaluate("window.fetches.urls.length")
    wait_until(lambda: page.evaluate("window.fetches.urls.length") >= asked + 3, 15, "three more polls")
    fetches = page.evaluate("window.fetches")
    assert fetches["most"] == 1, fetches
    assert all("/api/snapshot?" in url for url in fetches["urls"]), fetches["urls"]  # one request per poll
    renders = [tuple(r) for r in page.evaluate("window.renders") if r[0]]
    assert ("1m", "AAPL · 1m candles") in renders and ("5m", "AAPL · 5m candles") in renders
    mixed = [(size, title) for size, title in renders if title.startswith("AAPL") and f"· {size} " not in title]
    assert mixed == [], mixed  # the table and the chart never showed two sizes at once


def test_the_api_error_text_is_shown_and_the_page_recovers(db, served_app, page):
    seed_two_sizes(db)
    page.route(
        "**/api/snapshot*",
        lambda route: route.fulfill(status=503, json={"error": "the database is unavailable; retry shortly"}),
    )
    page.goto(served_app)
    expect(page.locator("#freshness")).to_have_text(
        "cannot load the data: the database is unavailable; retry shortly (HTTP 503)"
    )
    page.unroute("**/api/snapshot*")
    expect(page.locator("#freshness")).to_contain_text("updated", timeout=10_000)
    expect(page.locator("#latest tbody tr")).to_have_count(2)


def test_the_table_keeps_polling_when_the_chart_library_does_not_load(db, served_app, page):
    seed_two_sizes(db)
    page.route("**/vendor/lightweight-charts.js", lambda route: route.abort())
    page.goto(served_app)
    expect(page.locator("#latest tbody tr")).to_have_count(2)
    expect(page.locator("#chart-title")).to_contain_text("the chart library did not load")
    insert(db, "NVDA", NOW, 1, 150)
    expect(page.locator("#latest tbody tr")).to_have_count(3)
    expect(page.locator("#latest tbody tr[data-symbol='NVDA']")).to_contain_text("150.00")


def test_the_first_view_has_candles_of_more_than_one_event_and_a_choice_is_remembered(db, served_app, page):
    seed_two_sizes(db, one_minute_events=1)  # a minute's candle holds one quote, as with Finnhub's REST polls
    page.goto(served_app)
    expect(page.locator("#chart-title")).to_have_text("AAPL · 5m candles")
    expect(page.locator("#window")).to_have_value("5m")
    expect(page.locator("#window-note")).to_contain_text(
        "Showing 5m candles: the 1m candles of the newest hour hold 1.0 event on average"
    )
    page.select_option("#window", "1m")
    expect(page.locator("#window-note")).to_be_hidden()
    expect(page.locator("#chart-title")).to_have_text("AAPL · 1m candles")

    page.reload()
    expect(page.locator("#latest tbody tr")).to_have_count(2)
    expect(page.locator("#window")).to_have_value("1m")
    expect(page.locator("#chart-title")).to_have_text("AAPL · 1m candles")
    expect(page.locator("#window-note")).to_be_hidden()
