-- top_movers: per window size, the symbols ranked by how far they moved (absolute % change,
-- rank 1 the biggest move) over two periods, measured against the newest data in the table,
-- not now(), so the ranking also holds for replayed data and after the market closes:
--   'hour'  windows that start within the hour before the newest window start in the table
--           (newest - 1 h, newest];
--   'day'   windows that start on the UTC day of that newest window start (a UTC day holds a
--           whole US session, 14:30-21:00 UTC).
-- change_pct = (close of the last candle / open of the first candle - 1) * 100.
-- Filter on window_size (and period): pushed below the ranking.
-- Idempotent: safe to apply again.
CREATE OR REPLACE VIEW top_movers AS
WITH newest AS (
    SELECT max(window_start) AS newest_start FROM stock_aggregates
), candles AS (
    SELECT 'hour' AS period, s.*
    FROM stock_aggregates s, newest
    WHERE s.window_start > newest.newest_start - interval '1 hour'
    UNION ALL
    SELECT 'day' AS period, s.*
    FROM stock_aggregates s, newest
    WHERE s.window_start >= date_trunc('day', newest.newest_start AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
), moves AS (
    SELECT
        window_end - window_start AS window_size,
        period,
        symbol,
        (array_agg(open_price ORDER BY window_start))[1] AS first_open,
        (array_agg(close_price ORDER BY window_start DESC))[1] AS last_close,
        count(*) AS candles,
        min(window_start) AS first_window_start,
        max(window_end) AS last_window_end
    FROM candles
    GROUP BY window_end - window_start, period, symbol
)
SELECT
    window_size,
    period,
    row_number() OVER (PARTITION BY window_size, period ORDER BY abs(change_pct) DESC, symbol) AS rank,
    symbol,
    change_pct,
    first_open,
    last_close,
    candles,
    first_window_start,
    last_window_end
FROM (SELECT *, (last_close / first_open - 1) * 100 AS change_pct FROM moves) ranked;
