-- Example queries: run them with  psql "$DATABASE_URL" -f sql/examples.sql
-- or paste one into psql. Not applied as part of the schema.

-- The newest 1-minute row of every symbol.
SELECT symbol, window_start, close_price, event_count, volume, vwap
FROM latest_aggregates
WHERE window_size = interval '1 minute'
ORDER BY symbol;

-- 5-minute candles of one symbol over the last day, oldest first.
SELECT window_start, open_price, high_price, low_price, close_price, volume
FROM stock_aggregates
WHERE symbol = 'AAPL'
  AND window_end - window_start = interval '5 minutes'
  AND window_start >= now() - interval '1 day'
ORDER BY window_start;

-- How far VWAP sits from the close, per symbol, in the newest 5-minute windows.
SELECT symbol, window_start, close_price, vwap,
       round(((close_price - vwap) / vwap * 100)::numeric, 3) AS close_vs_vwap_pct
FROM latest_aggregates
WHERE window_size = interval '5 minutes' AND vwap IS NOT NULL
ORDER BY abs(close_price - vwap) / vwap DESC;

-- What the streaming job rejected, by reason.
SELECT reason, count(*) AS events, max(seen_at) AS last_seen
FROM rejected_events
GROUP BY reason
ORDER BY events DESC;
