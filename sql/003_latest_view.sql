-- latest_aggregates: the newest window of every size for every symbol, with its size.
-- Idempotent: safe to apply again.
CREATE OR REPLACE VIEW latest_aggregates AS
SELECT DISTINCT ON (symbol, window_end - window_start)
    window_end - window_start AS window_size,
    stock_aggregates.*
FROM stock_aggregates
ORDER BY symbol, window_end - window_start, window_start DESC;
