-- candle_indicators: moving averages and Bollinger bands of the close, per candle, for every
-- symbol and window size (the size of a row is window_end - window_start).
--   sma_5, sma_20    mean close of the last 5 / 20 candles, this one included; null while the
--                    series has fewer candles than that.
--   ema_5, ema_20    exponential moving average, alpha = 2 / (N + 1), seeded with the series'
--                    first close (so it exists from the first candle on).
--   bollinger_upper  sma_20 + 2 sample standard deviations of the same 20 closes; _lower: minus.
--                    The middle band is sma_20.
-- "The last N candles" are the last N rows of the series: a missing candle (a window with no
-- events, so no row) is skipped, not counted as a candle.
-- Filter on symbol and window_size: both are pushed below the window functions, and the
-- (symbol, size, window_start) index of 001 serves the series in order.
-- Idempotent: safe to apply again.
CREATE OR REPLACE VIEW candle_indicators AS
SELECT
    symbol,
    window_end - window_start AS window_size,
    window_start,
    window_end,
    open_price,
    high_price,
    low_price,
    close_price,
    row_number() OVER series AS candle_number,
    CASE WHEN row_number() OVER series >= 5 THEN avg(close_price) OVER last_5 END AS sma_5,
    CASE WHEN row_number() OVER series >= 20 THEN avg(close_price) OVER last_20 END AS sma_20,
    ema(close_price, 5) OVER so_far AS ema_5,
    ema(close_price, 20) OVER so_far AS ema_20,
    CASE WHEN row_number() OVER series >= 20
         THEN avg(close_price) OVER last_20 + 2 * stddev_samp(close_price) OVER last_20 END AS bollinger_upper,
    CASE WHEN row_number() OVER series >= 20
         THEN avg(close_price) OVER last_20 - 2 * stddev_samp(close_price) OVER last_20 END AS bollinger_lower
FROM stock_aggregates
WINDOW series AS (PARTITION BY symbol, window_end - window_start ORDER BY window_start),
       last_5 AS (series ROWS 4 PRECEDING),
       last_20 AS (series ROWS 19 PRECEDING),
       so_far AS (series ROWS UNBOUNDED PRECEDING);
