// The live page: polls the JSON API and updates the table, the chart (with the overlays of
// analytics.js), the top movers and the status lines in place.
// Data from the server is only ever written as text (textContent), never as markup.
"use strict";

const pollSeconds = Number(document.body.dataset.pollSeconds) || 5;
const staleSeconds = Number(document.body.dataset.staleSeconds) || 120;
const windowSelect = document.getElementById("window");
const tbody = document.querySelector("#latest tbody");
const emptyNote = document.getElementById("empty");
const freshness = document.getElementById("freshness");
const quality = document.getElementById("quality");
const chartTitle = document.getElementById("chart-title");
const chartBox = document.getElementById("chart");

const previous = new Map(); // symbol -> what its row showed, to highlight changes
let selected = null; // the charted symbol
let chartKey = null; // symbol|window the chart holds
let newestUpdate = null;
let lastError = null;

const price = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(2));
const whole = (v) => (v === null || v === undefined ? "–" : Math.round(v).toLocaleString());

const chart = LightweightCharts.createChart(chartBox, {
  autoSize: true,
  layout: { background: { color: "#172029" }, textColor: "#8b98a5" },
  grid: { vertLines: { color: "#22303c" }, horzLines: { color: "#22303c" } },
  timeScale: { timeVisible: true, secondsVisible: false },
});
const candles = chart.addSeries(LightweightCharts.CandlestickSeries, {
  upColor: "#26a69a", downColor: "#ef5350", wickUpColor: "#26a69a", wickDownColor: "#ef5350", borderVisible: false,
});
const volumes = chart.addSeries(LightweightCharts.HistogramSeries, {
  priceFormat: { type: "volume" }, priceScaleId: "volume", color: "#3d5166",
});
chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
const overlays = createOverlays(chart, candles, chartBox); // analytics.js
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

function candleOf(row) {
  return { time: epochSeconds(row.window_start), open: row.open_price, high: row.high_price, low: row.low_price,
           close: row.close_price };
}

function volumeOf(row) {
  const up = row.close_price >= row.open_price;
  return { time: epochSeconds(row.window_start), value: row.volume ?? 0, color: up ? "#1f5f58" : "#7a2e2d" };
}

async function getJson(path) {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

async function refreshChart() {
  if (!selected) return;
  const key = `${selected}|${windowSelect.value}`;
  const query = new URLSearchParams({ symbol: selected, window: windowSelect.value, limit: "200" });
  const [rows, indicators] = await Promise.all([getJson(`/api/aggregates?${query}`), getJson(`/api/indicators?${query}`)]);
  // Only the charted candles' spikes: a since bound keeps the query off the series' whole history.
  if (rows.length) query.set("since", rows[0].window_start);
  const spikes = rows.length ? await getJson(`/api/spikes?${query}`) : [];
  const shown = candles.data();
  const newest = rows[rows.length - 1];
  if (key === chartKey && newest && shown.length && shown[shown.length - 1].time === epochSeconds(newest.window_start)) {
    // The newest candle keeps forming: change it in place.
    candles.update(candleOf(newest));
    volumes.update(volumeOf(newest));
  } else {
    // Another symbol or window, or a new candle (which also settles the previous one): redraw.
    candles.setData(rows.map(candleOf));
    volumes.setData(rows.map(volumeOf));
    if (key !== chartKey) chart.timeScale().fitContent();
    chartKey = key;
  }
  overlays.drawIndicators(indicators);
  overlays.drawSpikes(spikes);
  chartTitle.textContent = `${selected} · ${windowSelect.value} candles`;
  chartBox.dataset.candles = String(candles.data().length);
  chartBox.dataset.lastClose = rows.length ? String(rows[rows.length - 1].close_price) : "";
}

function selectSymbol(symbol) {
  selected = symbol;
  for (const tr of tbody.rows) tr.classList.toggle("selected", tr.dataset.symbol === symbol);
  refreshChart().catch((error) => { lastError = error.message; renderFreshness(); });
}

function renderFreshness() {
  let text;
  let stale = true;
  if (lastError) {
    text = `cannot reach the API: ${lastError}`;
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

async function refreshQuality() {
  const report = await getJson("/api/quality");
  quality.textContent = `${report.rejected} rejected event${report.rejected === 1 ? "" : "s"} in the last ${report.hours} h`;
  quality.classList.toggle("has-rejects", report.rejected > 0);
}

async function refreshMovers() {
  renderMovers(await getJson(`/api/movers?window=${encodeURIComponent(windowSelect.value)}`), selectSymbol);
}

async function refreshSpikeNotice() {
  const size = windowSelect.value;
  spikeNotice.check(await getJson(`/api/spikes?window=${encodeURIComponent(size)}&limit=50`), size);
}

async function refresh() {
  try {
    const rows = await getJson(`/api/latest?window=${encodeURIComponent(windowSelect.value)}`);
    // Keep the charted symbol while the table has it; otherwise chart the first row.
    if (!rows.some((row) => row.symbol === selected)) selected = rows.length ? rows[0].symbol : null;
    tbody.replaceChildren(...rows.map(renderRow));
    emptyNote.hidden = rows.length > 0;
    const updates = rows.map((r) => Date.parse(r.updated_at)).filter(Number.isFinite);
    newestUpdate = updates.length ? new Date(Math.max(...updates)) : null;
    await Promise.all([refreshChart(), refreshQuality(), refreshMovers(), refreshSpikeNotice()]);
    lastError = null;
  } catch (error) {
    lastError = error.message;
  }
  renderFreshness();
}

windowSelect.addEventListener("change", () => {
  previous.clear();
  refresh();
});
refresh();
setInterval(refresh, pollSeconds * 1000);
setInterval(renderFreshness, 1000);
