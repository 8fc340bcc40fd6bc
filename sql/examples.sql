-- Example queries: run them all with  psql "$DATABASE_URL" -f sql/examples.sql
-- or paste one into psql. Not applied as part of the schema. Times are UTC.

-- The newest 1-minute row of every symbol.
SELECT symbol, window_start, close_price, event_count, volume, vwap
FROM latest_aggregates
WHERE window_size = interval '1 minute'
ORDER BY symbol;

-- 5-minute candles of one symbol over the last 24 hours, oldest first.
SELECT window_start, open_price, high_price, low_price, close_price, volume
FROM stock_aggregates
WHERE symbol = 'AAPL'
  AND window_end - window_start = interval '5 minutes'
  AND window_start >= now() - interval '24 hours'
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

-- The streaming job's recent micro-batches and what each wrote.
SELECT query_name, batch_id, rows_written, committed_at
FROM streaming_batches
ORDER BY committed_at DESC
LIMIT 20;

-- Analytics views (sql/005-009; definitions in each file's header and in the README).
-- Moving averages and Bollinger bands of AAPL's newest 1-minute candles; sma_20 is the middle band.
SELECT symbol, window_start, close_price, sma_5, sma_20, ema_5, ema_20, bollinger_lower, bollinger_upper
FROM candle_indicators
WHERE symbol = 'AAPL' AND window_size = interval '1 minute'
ORDER BY window_start DESC
LIMIT 30;

-- The most unusual 1-minute returns of the last hour: z-score against the previous 20 returns.
SELECT symbol, window_start, previous_close, close_price,
       round(return_pct::numeric, 3) AS return_pct, round(return_zscore::numeric, 2) AS zscore
FROM candle_returns
WHERE window_size = interval '1 minute' AND window_start >= now() - interval '1 hour'
ORDER BY abs(return_zscore) DESC NULLS LAST
LIMIT 20;

-- Spikes of the last day, every window size: close at least 2 % from the candle's open
-- (another threshold: SET stocks.spike_threshold_pct = 1.5; before the query).
SELECT symbol, window_size, window_start, open_price, close_price, round(change_pct::numeric, 2) AS change_pct
FROM price_spikes
WHERE window_start >= now() - interval '1 day'
ORDER BY window_start DESC;

-- Top movers of the 5-minute candles over the last hour and the day so far (UTC), biggest first.
SELECT symbol, period, rank, round(change_pct::numeric, 2) AS change_pct, first_open, last_close, candles
FROM top_movers
WHERE window_size = interval '5 minutes'
ORDER BY period DESC, rank;

-- An EMA of another length with the ema() aggregate: 50 candles of AAPL's 5-minute closes.
SELECT symbol, window_start, close_price,
       ema(close_price, 50) OVER (PARTITION BY symbol ORDER BY window_start ROWS UNBOUNDED PRECEDING) AS ema_50
FROM stock_aggregates
WHERE symbol = 'AAPL' AND window_end - window_start = interval '5 minutes'
ORDER BY window_start DESC
LIMIT 20;
