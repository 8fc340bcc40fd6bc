// Polls the JSON API and updates the table in place. Data is only ever written as text.
"use strict";

const pollSeconds = Number(document.body.dataset.pollSeconds) || 5;
const staleAfterSeconds = Math.max(120, pollSeconds * 6);
const windowSelect = document.getElementById("window");
const tbody = document.querySelector("#latest tbody");
const emptyNote = document.getElementById("empty");
const freshness = document.getElementById("freshness");
const previous = new Map();
let newestUpdate = null;
let lastError = null;

const price = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(2));
const whole = (v) => (v === null || v === undefined ? "–" : Math.round(v).toLocaleString());
const clock = (iso) => new Date(iso).toISOString().slice(11, 16);

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
    cell(`${change >= 0 ? "+" : ""}${change.toFixed(2)} (${pct >= 0 ? "+" : ""}${pct.toFixed(2)}%)`, direction),
    cell(price(row.high_price)),
    cell(price(row.low_price)),
    cell(row.price_stddev === null ? "–" : Number(row.price_stddev).toFixed(3)),
    cell(whole(row.event_count)),
    cell(whole(row.volume)),
    cell(price(row.vwap)),
  );
  const key = `${row.window_start}|${row.close_price}|${row.event_count}`;
  if (previous.has(row.symbol) && previous.get(row.symbol) !== key) tr.classList.add("changed");
  previous.set(row.symbol, key);
  return tr;
}

function renderFreshness() {
  if (lastError) {
    freshness.textContent = `cannot reach the API: ${lastError}`;
    freshness.classList.add("stale");
    return;
  }
  if (!newestUpdate) {
    freshness.textContent = "no data yet: is the pipeline running?";
    freshness.classList.add("stale");
    return;
  }
  const age = Math.max(0, Math.round((Date.now() - newestUpdate.getTime()) / 1000));
  const stale = age > staleAfterSeconds;
  freshness.textContent = stale
    ? `data is stale: last update ${age} s ago (market closed or pipeline stopped?)`
    : `updated ${age} s ago`;
  freshness.classList.toggle("stale", stale);
}

async function refresh() {
  try {
    const response = await fetch(`/api/latest?window=${encodeURIComponent(windowSelect.value)}`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const rows = await response.json();
    tbody.replaceChildren(...rows.map(renderRow));
    emptyNote.hidden = rows.length > 0;
    const updates = rows.map((r) => Date.parse(r.updated_at)).filter(Number.isFinite);
    newestUpdate = updates.length ? new Date(Math.max(...updates)) : null;
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
