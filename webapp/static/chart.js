// The candle chart: candles, volume and the analytics overlays of one symbol and window size.
// `charts` is the lightweight-charts library; the page works without it (table only).
import { createOverlays, epochSeconds } from "./analytics.js";

function candleOf(row) {
  return { time: epochSeconds(row.window_start), open: row.open_price, high: row.high_price, low: row.low_price,
           close: row.close_price };
}

function volumeOf(row) {
  const up = row.close_price >= row.open_price;
  return { time: epochSeconds(row.window_start), value: row.volume ?? 0, color: up ? "#1f5f58" : "#7a2e2d" };
}

export function createCandleChart(charts, chartBox) {
  const chart = charts.createChart(chartBox, {
    autoSize: true,
    layout: { background: { color: "#172029" }, textColor: "#8b98a5" },
    grid: { vertLines: { color: "#22303c" }, horzLines: { color: "#22303c" } },
    timeScale: { timeVisible: true, secondsVisible: false },
  });
  const candles = chart.addSeries(charts.CandlestickSeries, {
    upColor: "#26a69a", downColor: "#ef5350", wickUpColor: "#26a69a", wickDownColor: "#ef5350", borderVisible: false,
  });
  const volumes = chart.addSeries(charts.HistogramSeries, {
    priceFormat: { type: "volume" }, priceScaleId: "volume", color: "#3d5166",
  });
  chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
  const overlays = createOverlays(charts, chart, candles, chartBox);
  let shownKey = null; // symbol|window the chart holds

  // Draw one snapshot's series: candles (oldest first, each with its volume and indicators) and spikes.
  function show(key, rows, spikes) {
    const shown = candles.data();
    const newest = rows[rows.length - 1];
    if (key === shownKey && newest && shown.length && shown[shown.length - 1].time === epochSeconds(newest.window_start)) {
      // The newest candle keeps forming: change it in place.
      candles.update(candleOf(newest));
      volumes.update(volumeOf(newest));
    } else {
      // Another symbol or window, or a new candle (which also settles the previous one): redraw.
      candles.setData(rows.map(candleOf));
      volumes.setData(rows.map(volumeOf));
      if (key !== shownKey) chart.timeScale().fitContent();
      shownKey = key;
    }
    overlays.drawIndicators(rows);
    overlays.drawSpikes(spikes);
    chartBox.dataset.candles = String(candles.data().length);
    chartBox.dataset.lastClose = newest ? String(newest.close_price) : "";
  }

  return { show };
}
