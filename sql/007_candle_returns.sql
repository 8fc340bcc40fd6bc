-- candle_returns: the return of each candle and its z-score, for every symbol and window size.
--   return_pct     (close / previous close - 1) * 100, where the previous close is the one of the
--                  previous row of the series: across a missing candle it spans the gap. Null
--                  for the first candle.
--   return_zscore  (return - mean) / sample standard deviation of the previous 20 returns (not
--                  this one); null until 20 previous returns exist, and when they are all equal.
-- Filter on symbol and window_size: both are pushed below the window functions.
-- Idempotent: safe to apply again.
CREATE OR REPLACE VIEW candle_returns AS
SELECT
    symbol,
    window_size,
    window_start,
    window_end,
    previous_close,
    close_price,
    return_pct,
    CASE WHEN count(return_pct) OVER prior_20 = 20
         THEN (return_pct - avg(return_pct) OVER prior_20) / nullif(stddev_samp(return_pct) OVER prior_20, 0)
    END AS return_zscore
FROM (
    SELECT
        symbol,
        window_end - window_start AS window_size,
        window_start,
        window_end,
        close_price,
        lag(close_price) OVER series AS previous_close,
        (close_price / lag(close_price) OVER series - 1) * 100 AS return_pct
    FROM stock_aggregates
    WINDOW series AS (PARTITION BY symbol, window_end - window_start ORDER BY window_start)
) returns
WINDOW prior_20 AS (PARTITION BY symbol, window_size ORDER BY window_start ROWS BETWEEN 20 PRECEDING AND 1 PRECEDING);
