-- Example queries: run them all with  psql "$DATABASE_URL" -f sql/examples.sql
-- or paste one into psql. Not applied as part of the schema. Times are UTC.

-- The newest 1-minute row of every symbol.
SELECT symbol, window_start, close_price, event_count, volume, vwap
FROM latest_aggregates
WHERE window_size = interval '1 minute'
ORDER BY symbol;

-- 5-minute candles of one symbol today, oldest first.
SELECT window_start, open_price, high_price, low_price, close_price, volume
FROM stock_aggregates
WHERE symbol = 'AAPL'
  AND window_end - window_start = interval '5 minutes'
  AND window_start >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
ORDER BY window_start;

-- Top movers of the last hour: from the first 1-minute open to the last 1-minute close.
SELECT DISTINCT ON (symbol) symbol,
       first_value(open_price) OVER w AS hour_open,
       last_value(close_price) OVER w AS last_close,
       round(((last_value(close_price) OVER w / first_value(open_price) OVER w - 1) * 100)::numeric, 2)
           AS change_pct
FROM stock_aggregates
WHERE window_end - window_start = interval '1 minute'
  AND window_start >= now() - interval '1 hour'
WINDOW w AS (PARTITION BY symbol ORDER BY window_start ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
ORDER BY symbol;

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

-- The streaming job's recent micro-batches and what each wrote.
SELECT query_name, batch_id, rows_written, committed_at
FROM streaming_batches
ORDER BY committed_at DESC
LIMIT 20;
