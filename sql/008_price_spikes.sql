-- price_spikes: candles whose close moved at least a threshold from their own open:
-- |close / open - 1| * 100 >= stocks.spike_threshold_pct (default 2). Measured within the candle,
-- so a gap (missing candles, a night) never makes a spike, and the first candle can be one.
-- Another threshold for a session:  SET stocks.spike_threshold_pct = 1.5;
-- The candles that moved at least 2 % are also in a partial index, newest first per window size: the
-- webapp finds the newest spikes of all symbols as its first entries (webapp/queries.py, SPIKES)
-- instead of scanning back through every candle until enough are found. Its condition reads the
-- prices, so an upsert that changes a window's close can no longer be a HOT update (every index of the
-- row gets a new entry): a few rows per live batch, against a spike query that read 200,000 rows.
-- Idempotent: safe to apply again.
CREATE INDEX IF NOT EXISTS stock_aggregates_spikes_idx
    ON stock_aggregates ((window_end - window_start), window_start DESC, symbol DESC)
    WHERE abs(close_price / open_price - 1) * 100 >= 2;

CREATE OR REPLACE VIEW price_spikes AS
SELECT
    symbol,
    window_end - window_start AS window_size,
    window_start,
    window_end,
    open_price,
    high_price,
    low_price,
    close_price,
    (close_price / open_price - 1) * 100 AS change_pct
FROM stock_aggregates
WHERE abs(close_price / open_price - 1) * 100
      >= coalesce(nullif(current_setting('stocks.spike_threshold_pct', true), '')::double precision, 2);
