// The live page: polls /api/snapshot (everything the page shows, for one window size) and updates
// the table, the chart, the top movers and the status lines in place. One refresh runs at a time,
// and each reads the window size once, so the table and the chart always show the same size.
// Data from the server is only ever written as text (textContent), never as markup.
import { getJson } from "./api.js";
import { clock, createSpikeNotice, renderMovers, signedPct } from "./analytics.js";
import { createCandleChart } from "./chart.js";

const CHOSEN_WINDOW = "stock-pipeline.window"; // localStorage: the size the user picked

const pollSeconds = Number(document.body.dataset.pollSeconds) || 5;
const staleSeconds = Number(document.body.dataset.staleSeconds) || 120;
const windowSelect = document.getElementById("window");
const windowNote = document.getElementById("window-note");
const table = document.getElementById("latest");
const tbody = table.querySelector("tbody");
const emptyNote = document.getElementById("empty");
const freshness = document.getElementById("freshness");
const quality = document.getElementById("quality");
const chartTitle = document.getElementById("chart-title");
const chartBox = document.getElementById("chart");

const previous = new Map(); // symbol -> what its row showed, to highlight changes
let selected = null; // the charted symbol
let newestUpdate = null;
let lastError = null;
let firstView = true;

const price = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(2));
const whole = (v) => (v === null || v === undefined ? "–" : Math.round(v).toLocaleString());

// The chart library is a separate script: when it did not load, the table still works.
const chart = window.LightweightCharts ? createCandleChart(window.LightweightCharts, chartBox) : null;
if (!chart) chartBox.dataset.unavailable = "true";
const spikeNotice = createSpikeNotice(document.getElementById("spike-notice"));

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function renderRow(row) {
  const change = row.close_price - row.open_price;
  const pct = row.open_price ? (change / row.open_price) * 100 : 0;
  const direction = change > 0 ? "up" : change < 0 ? "down" : "";
  const tr = document.createElement("tr");
  tr.dataset.symbol = row.symbol;
  tr.append(
    cell(row.symbol, "symbol"),
    cell(`${clock(row.window_start)}–${clock(row.window_end)}`),
    cell(price(row.close_price), direction),
    cell(`${change >= 0 ? "+" : ""}${change.toFixed(2)} (${signedPct(pct)})`, direction),
    cell(price(row.high_price)),
    cell(price(row.low_price)),
    cell(row.price_stddev === null ? "–" : Number(row.price_stddev).toFixed(3)),
    cell(whole(row.event_count)),
    cell(whole(row.volume)),
    cell(price(row.vwap)),
  );
  const shown = `${row.window_start}|${row.close_price}|${row.event_count}`;
  if (previous.has(row.symbol) && previous.get(row.symbol) !== shown) tr.classList.add("changed");
  previous.set(row.symbol, shown);
  if (row.symbol === selected) tr.classList.add("selected");
  tr.addEventListener("click", () => selectSymbol(row.symbol));
  return tr;
}

function renderFreshness() {
  let text;
  let stale = true;
  if (lastError) {
    text = `cannot load the data: ${lastError}`;
  } else if (!newestUpdate) {
    text = "no data yet: is the pipeline running?";
  } else {
    const age = Math.max(0, Math.round((Date.now() - newestUpdate.getTime()) / 1000));
    stale = age > staleSeconds;
    text = stale
      ? `data is stale: last update ${age} s ago (market closed or pipeline stopped?)`
      : `updated ${age} s ago`;
  }
  freshness.textContent = text;
  freshness.classList.toggle("stale", stale);
}

function renderQuality(report) {
  quality.textContent = `${report.rejected} rejected event${report.rejected === 1 ? "" : "s"} in the last ${report.hours} h`;
  quality.classList.toggle("has-rejects", report.rejected > 0);
}

// Everything one snapshot holds, all of one window size.
function render(snapshot, size) {
  selected = snapshot.symbol;
  tbody.replaceChildren(...snapshot.latest.map(renderRow));
  table.dataset.window = size;
  emptyNote.hidden = snapshot.latest.length > 0;
  const updates = snapshot.latest.map((r) => Date.parse(r.updated_at)).filter(Number.isFinite);
  newestUpdate = updates.length ? new Date(Math.max(...updates)) : null;
  chartBox.dataset.window = size;
  if (!selected) {
    chartTitle.textContent = "–";
  } else if (chart) {
    chart.show(`${selected}|${size}`, snapshot.candles, snapshot.spikes);
    chartTitle.textContent = `${selected} · ${size} candles`;
  } else {
    chartTitle.textContent = `${selected} · ${size}: the chart library did not load, the table still updates`;
  }
  renderMovers(snapshot.movers, selectSymbol);
  spikeNotice.check(snapshot.recent_spikes, size);
  renderQuality(snapshot.quality);
}

// The first view, when the user never picked a size: the finest one whose candles of the newest
// hour hold more than one event (with a Finnhub key the producer polls each minute, so 1-minute
// candles hold one quote each and would draw as flat dashes).
function chooseFirstWindow(candleEvents) {
  const sizes = [...windowSelect.options].map((o) => o.value);
  const finest = sizes.find((size) => (candleEvents[size] ?? 0) > 1);
  if (!finest || finest === sizes[0]) return null;
  const events = Number(candleEvents[sizes[0]] ?? 0).toFixed(1);
  windowNote.textContent = `Showing ${finest} candles: the ${sizes[0]} candles of the newest hour hold ${events} `
    + "event on average, too few to draw. Pick another size; the page remembers it.";
  windowNote.hidden = false;
  return finest;
}

async function refreshOnce() {
  const size = windowSelect.value; // read once: everything below is of this size
  const query = new URLSearchParams({ window: size, limit: "200" });
  if (selected) query.set("symbol", selected);
  try {
    const snapshot = await getJson(`/api/snapshot?${query}`);
    lastError = null;
    if (firstView && snapshot.latest.length) {
      firstView = false;
      const better = localStorage.getItem(CHOSEN_WINDOW) ? null : chooseFirstWindow(snapshot.candle_events);
      if (better && windowSelect.value === size) {
        windowSelect.value = better;
        requestRefresh();
        return;
      }
    }
    render(snapshot, size);
  } catch (error) {
    lastError = error.message;
  }
  renderFreshness();
}

let running = null; // the refresh in flight
let again = false; // something asked for a refresh while one ran

// One refresh at a time: a request during a refresh runs one more right after it.
function requestRefresh() {
  if (running) {
    again = true;
    return running;
  }
  running = (async () => {
    do {
      again = false;
      await refreshOnce();
    } while (again);
  })().finally(() => {
    running = null;
  });
  return running;
}

function selectSymbol(symbol) {
  selected = symbol;
  for (const tr of tbody.rows) tr.classList.toggle("selected", tr.dataset.symbol === symbol);
  requestRefresh();
}

async function poll() {
  await requestRefresh();
  setTimeout(poll, pollSeconds * 1000);
}

const chosen = localStorage.getItem(CHOSEN_WINDOW);
if (chosen && [...windowSelect.options].some((o) => o.value === chosen)) windowSelect.value = chosen;
windowSelect.addEventListener("change", () => {
  localStorage.setItem(CHOSEN_WINDOW, windowSelect.value);
  windowNote.hidden = true;
  previous.clear();
  requestRefresh();
});
poll();
setInterval(renderFreshness, 1000);
