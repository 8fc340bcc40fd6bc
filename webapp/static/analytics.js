// Analytics on the live page: moving-average and Bollinger overlays on the chart (each switchable),
// spike markers on the candles, the top-movers panel, and a notice when a new spike arrives.
// Data from the server is only ever written as text.

// One entry per checkbox of #overlays; Bollinger draws two lines (the middle band is SMA 20).
const OVERLAYS = [
  { key: "sma5", fields: ["sma_5"], color: "#a5d6a7" },
  { key: "sma20", fields: ["sma_20"], color: "#f0b429" },
  { key: "ema5", fields: ["ema_5"], color: "#c4a7e7" },
  { key: "ema20", fields: ["ema_20"], color: "#4fc3f7" },
  { key: "bollinger", fields: ["bollinger_upper", "bollinger_lower"], color: "#b0bec5", thin: true },
];
const SPIKE_NOTICE_SECONDS = 10;

export const epochSeconds = (iso) => Math.floor(Date.parse(iso) / 1000);
export const signedPct = (v) => `${v >= 0 ? "+" : ""}${Number(v).toFixed(2)}%`;
export const clock = (iso) => new Date(iso).toISOString().slice(11, 16);

// The overlays and spike markers of the chart (`charts` is the lightweight-charts library); their
// state is mirrored in #chart's data attributes.
export function createOverlays(charts, chart, candleSeries, chartBox) {
  const overlays = OVERLAYS.map((overlay) => {
    const toggle = document.querySelector(`#overlays input[data-overlay="${overlay.key}"]`);
    toggle.parentElement.querySelector(".swatch").style.background = overlay.color;
    const lines = overlay.fields.map(() => chart.addSeries(charts.LineSeries, {
      color: overlay.color, lineWidth: overlay.thin ? 1 : 2,
      priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false, visible: toggle.checked,
    }));
    return { ...overlay, toggle, lines };
  });
  const markers = charts.createSeriesMarkers(candleSeries, []);

  function showVisible() {
    chartBox.dataset.overlays = overlays.filter((o) => o.lines[0].options().visible).map((o) => o.key).join(" ");
  }

  for (const overlay of overlays) {
    overlay.toggle.addEventListener("change", () => {
      for (const line of overlay.lines) line.applyOptions({ visible: overlay.toggle.checked });
      showVisible();
    });
  }
  showVisible();

  function drawIndicators(rows) {
    for (const overlay of overlays) {
      overlay.fields.forEach((field, index) => {
        const points = rows.filter((r) => r[field] !== null)
          .map((r) => ({ time: epochSeconds(r.window_start), value: r[field] }));
        overlay.lines[index].setData(points);
        if (index === 0) {
          chartBox.dataset[`${overlay.key}Points`] = String(points.length);
          chartBox.dataset[`${overlay.key}Last`] = points.length ? String(points[points.length - 1].value) : "";
        }
      });
    }
  }

  function drawSpikes(spikes) {
    markers.setMarkers(spikes.map((s) => {
      const up = s.change_pct >= 0;
      return { time: epochSeconds(s.window_start), position: up ? "belowBar" : "aboveBar",
               shape: up ? "arrowUp" : "arrowDown", color: up ? "#26a69a" : "#ef5350", text: signedPct(s.change_pct) };
    }));
    chartBox.dataset.spikeMarkers = String(spikes.length);
  }

  return { drawIndicators, drawSpikes };
}

// The top-movers panel: one ranked list per period; clicking a symbol charts it.
export function renderMovers(rows, onSelect) {
  for (const period of ["hour", "day"]) {
    const list = document.getElementById(`movers-${period}`);
    list.replaceChildren(...rows.filter((r) => r.period === period).map((row) => {
      const item = document.createElement("li");
      const symbol = document.createElement("span");
      const change = document.createElement("span");
      symbol.className = "symbol";
      symbol.textContent = row.symbol;
      change.className = row.change_pct > 0 ? "up" : row.change_pct < 0 ? "down" : "";
      change.textContent = signedPct(row.change_pct);
      item.dataset.symbol = row.symbol;
      item.append(symbol, change);
      item.addEventListener("click", () => onSelect(row.symbol));
      return item;
    }));
    list.nextElementSibling.hidden = list.children.length > 0; // its "–" placeholder
  }
}

// A short notice for spikes that appear after the page has seen a window size's spikes once.
export function createSpikeNotice(box) {
  let seen = null; // spike keys already known for seen.windowName; null until the first answer
  let hideTimer = null;

  function check(spikes, windowName) {
    const keys = spikes.map((s) => `${s.symbol}|${s.window_start}`);
    if (seen === null || seen.windowName !== windowName) {
      seen = { windowName, keys: new Set(keys) };
      return;
    }
    const fresh = spikes.filter((s, i) => !seen.keys.has(keys[i]));
    keys.forEach((key) => seen.keys.add(key));
    if (!fresh.length) return;
    const newest = fresh[fresh.length - 1];
    const more = fresh.length > 1 ? ` (and ${fresh.length - 1} more)` : "";
    box.textContent = `Spike: ${newest.symbol} ${signedPct(newest.change_pct)} in the ${windowName} candle of `
      + `${clock(newest.window_start)} UTC${more}`;
    box.hidden = false;
    clearTimeout(hideTimer);
    hideTimer = setTimeout(() => { box.hidden = true; }, SPIKE_NOTICE_SECONDS * 1000);
  }

  return { check };
}
