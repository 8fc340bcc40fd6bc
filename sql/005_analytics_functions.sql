-- Building blocks of the analytics views (006-009): the ema() aggregate and the index on
-- window_start that the time-bounded views (spikes since a time, top movers) search by.
-- Idempotent: safe to apply again.

-- One step of an exponential moving average over `periods` values: alpha = 2 / (periods + 1).
-- The first value seeds the average (state is null before it).
-- PL/pgSQL, not SQL: a SQL-language transition function is about four times slower here.
CREATE OR REPLACE FUNCTION ema_step(state double precision, value double precision, periods integer)
RETURNS double precision
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    IF value IS NULL THEN
        RETURN state;
    ELSIF state IS NULL THEN
        RETURN value;
    END IF;
    RETURN (2.0::double precision / (periods + 1)) * value + (1 - 2.0::double precision / (periods + 1)) * state;
END
$$;

-- ema(close_price, 20) OVER (... ORDER BY window_start ROWS UNBOUNDED PRECEDING): the EMA of the
-- rows so far, seeded with the first close.
CREATE OR REPLACE AGGREGATE ema(double precision, integer) (
    SFUNC = ema_step,
    STYPE = double precision
);

-- The views look up recent windows of every symbol at once (top movers, spikes since a time).
CREATE INDEX IF NOT EXISTS stock_aggregates_window_start_idx ON stock_aggregates (window_start);
