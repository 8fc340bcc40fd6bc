-- What the webapp reads instead of folding the whole history, kept by triggers on every write to
-- stock_aggregates (the streaming job's sink, the baselines, a hand-written INSERT alike):
--   candle_indicators_state
--                   every indicator of candle_indicators (candle number, SMA 5 / 20, EMA 5 / 20,
--                   Bollinger bands), per candle. A write recomputes each touched series forward from
--                   its earliest changed candle: live, that is the newest one or two candles; a late
--                   event that changed an older candle recomputes from there. The EMAs are seeded with
--                   the candle before it, the averages and bands read the 19 candles before it. The
--                   values are the view's own: the same aggregates over the same closes in the same
--                   order.
--   symbol_summary  per symbol, its newest window end and when it was last written.
--   data_version    one row: a counter bumped by every statement that changes stock_aggregates or
--                   rejected_events, in the writing transaction (so a reader sees the new number
--                   exactly when it can see the new rows), and when the aggregates were last written.
--                   The webapp keys its cached answers on it.
-- Writers of stock_aggregates are serialized by the data_version row lock, taken first by every
-- trigger, and an INSERT ... ON CONFLICT DO UPDATE (which fires the UPDATE and then the INSERT
-- statement trigger) refreshes each series and bumps the version once.
-- Idempotent: safe to apply again; the first application fills candle_indicators_state and
-- symbol_summary from the rows already there.

DROP TABLE IF EXISTS candle_ema;  -- this file's first version kept the EMAs only
DROP FUNCTION IF EXISTS refresh_candle_ema(text, interval, timestamptz);

CREATE TABLE IF NOT EXISTS candle_indicators_state (
    symbol           text             NOT NULL,
    window_size      interval         NOT NULL,
    window_start     timestamptz      NOT NULL,
    candle_number    bigint           NOT NULL,
    sma_5            double precision,
    sma_20           double precision,
    ema_5            double precision NOT NULL,
    ema_20           double precision NOT NULL,
    bollinger_upper  double precision,
    bollinger_lower  double precision,
    PRIMARY KEY (symbol, window_size, window_start)
);

CREATE TABLE IF NOT EXISTS symbol_summary (
    symbol             text        PRIMARY KEY,
    newest_window_end  timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS data_version (
    only_row      boolean     PRIMARY KEY DEFAULT true CHECK (only_row),
    version       bigint      NOT NULL DEFAULT 0,
    newest_update timestamptz
);
INSERT INTO data_version (only_row) VALUES (true) ON CONFLICT DO NOTHING;

-- ema() of 005 continued from a known state: `seed` is the EMA of the candle before the first row.
CREATE OR REPLACE FUNCTION ema_seeded_step(state double precision, value double precision, periods integer,
                                           seed double precision)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ema_step(coalesce(state, seed), value, periods) $$;

CREATE OR REPLACE AGGREGATE ema_from(double precision, integer, double precision) (
    SFUNC = ema_seeded_step,
    STYPE = double precision
);

-- Recompute candle_indicators_state of the series (p_symbols[i], p_sizes[i]) from the candle starting
-- at p_from[i] onwards, every series in one statement.
-- JIT off: on a table not analyzed yet, the planner overestimates these small statements and JIT
-- compiles them for hundreds of milliseconds, inside the writer's transaction. Nested loops only: the
-- planner takes the series for a hundred rows (it cannot see into the arrays) and would hash-join
-- them against a scan of the whole table; a loop reads each series' range of its index.
CREATE OR REPLACE FUNCTION refresh_candle_indicators(p_symbols text[], p_sizes interval[], p_from timestamptz[])
RETURNS void
LANGUAGE plpgsql
SET jit = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
BEGIN
    DELETE FROM candle_indicators_state s
    USING unnest(p_symbols, p_sizes, p_from) AS t (symbol, size, first_start)
    WHERE s.symbol = t.symbol AND s.window_size = t.size AND s.window_start >= t.first_start;
    INSERT INTO candle_indicators_state (symbol, window_size, window_start, candle_number, sma_5, sma_20,
                                         ema_5, ema_20, bollinger_upper, bollinger_lower)
    SELECT symbol, size, window_start, candle_number,
           CASE WHEN candle_number >= 5 THEN avg_5 END,
           CASE WHEN candle_number >= 20 THEN avg_20 END,
           ema_5, ema_20,
           CASE WHEN candle_number >= 20 THEN avg_20 + 2 * stddev_20 END,
           CASE WHEN candle_number >= 20 THEN avg_20 - 2 * stddev_20 END
    FROM (
        SELECT t.symbol, t.size, t.first_start, a.window_start,
               coalesce(before.candle_number, 0)
                   + count(*) FILTER (WHERE a.window_start >= t.first_start) OVER so_far AS candle_number,
               avg(a.close_price) OVER last_5 AS avg_5,
               avg(a.close_price) OVER last_20 AS avg_20,
               stddev_samp(a.close_price) OVER last_20 AS stddev_20,
               ema_from(a.close_price, 5, before.ema_5) FILTER (WHERE a.window_start >= t.first_start) OVER so_far
                   AS ema_5,
               ema_from(a.close_price, 20, before.ema_20) FILTER (WHERE a.window_start >= t.first_start) OVER so_far
                   AS ema_20
        FROM unnest(p_symbols, p_sizes, p_from) AS t (symbol, size, first_start)
        LEFT JOIN LATERAL (  -- the candle before the first changed one: the EMA seeds and candle number
            SELECT candle_number, ema_5, ema_20 FROM candle_indicators_state
            WHERE symbol = t.symbol AND window_size = t.size AND window_start < t.first_start
            ORDER BY window_start DESC LIMIT 1
        ) before ON true
        CROSS JOIN LATERAL (  -- the 19 candles before it: the 20-candle averages of the first ones reach them
            SELECT min(window_start) AS context_from FROM (
                SELECT window_start FROM stock_aggregates
                WHERE symbol = t.symbol AND window_end - window_start = t.size AND window_start < t.first_start
                ORDER BY window_start DESC LIMIT 19
            ) context
        ) c
        CROSS JOIN LATERAL (  -- a range of the (symbol, size, start) index per series, never a scan
            SELECT window_start, close_price FROM stock_aggregates
            WHERE symbol = t.symbol AND window_end - window_start = t.size
              AND window_start >= coalesce(c.context_from, t.first_start)
            OFFSET 0  -- kept a subquery, so the bound is an index condition and not a filter after a join
        ) a
        WINDOW series AS (PARTITION BY t.symbol, t.size ORDER BY a.window_start),
               last_5 AS (series ROWS 4 PRECEDING),
               last_20 AS (series ROWS 19 PRECEDING),
               so_far AS (series ROWS UNBOUNDED PRECEDING)
    ) recomputed
    WHERE window_start >= first_start;
END
$$;

-- Statement triggers: `changed_rows` is the transition table (new rows, or old ones for a DELETE;
-- an UPDATE also passes its old rows as `old_rows`, in case a key changed).
-- An INSERT ... ON CONFLICT DO UPDATE fires the AFTER UPDATE statement trigger, then the AFTER INSERT
-- one, each with its own rows. Both fire once the statement has written every row, so the UPDATE
-- trigger's refresh already read the inserted rows of each series it refreshed: it records those
-- series and their first starts in the transaction-local setting stocks.serving_refreshed, and the
-- INSERT trigger refreshes only the series it does not cover from an earlier or equal start, and does
-- not bump the version again. The BEFORE INSERT trigger clears the setting at the start of every
-- INSERT statement (an ON CONFLICT one fires it before any row is written), so the INSERT trigger
-- finds only its own statement's record.
CREATE OR REPLACE FUNCTION stock_aggregates_changed()
RETURNS trigger
LANGUAGE plpgsql
SET jit = off
AS $$
DECLARE
    symbols   text[];
    sizes     interval[];
    starts    timestamptz[];
    refreshed jsonb;  -- what the UPDATE trigger of this INSERT ... ON CONFLICT statement refreshed
BEGIN
    -- Each touched series from its earliest changed candle. (Each transition table is named in its
    -- own branch: a statement naming a table the trigger does not pass fails when it runs.)
    IF TG_OP = 'UPDATE' THEN
        SELECT array_agg(symbol), array_agg(size), array_agg(first_start) INTO symbols, sizes, starts
        FROM (SELECT symbol, window_end - window_start AS size, min(window_start) AS first_start
              FROM (SELECT symbol, window_start, window_end FROM changed_rows
                    UNION ALL
                    SELECT symbol, window_start, window_end FROM old_rows) touched
              GROUP BY 1, 2) series;
    ELSE
        SELECT array_agg(symbol), array_agg(size), array_agg(first_start) INTO symbols, sizes, starts
        FROM (SELECT symbol, window_end - window_start AS size, min(window_start) AS first_start
              FROM changed_rows
              GROUP BY 1, 2) series;
    END IF;
    IF symbols IS NULL THEN  -- the statement changed no row
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        refreshed := nullif(current_setting('stocks.serving_refreshed', true), '')::jsonb;
    END IF;
    IF refreshed IS NULL THEN
        -- First, before reading anything: the row lock on data_version, held to commit, serializes the
        -- writers of stock_aggregates. Two at once would otherwise refresh one series side by side,
        -- each blind to the other's uncommitted rows and state: one seeds its EMAs from a candle the
        -- other is rewriting, or both insert the same state rows (a unique violation). Every writing
        -- transaction took this lock anyway, at the end of the trigger, until its commit: taken first,
        -- it only makes two writers' refreshes run one after the other (the point); one lock, so no
        -- deadlock between triggers. Once it is granted, each statement
        -- of the refresh takes a new snapshot (READ COMMITTED, a VOLATILE function) and sees the
        -- other writer's committed rows and state.
        UPDATE data_version
        SET version = version + 1,
            newest_update = CASE WHEN TG_OP = 'DELETE' THEN newest_update
                                 ELSE greatest(newest_update, (SELECT max(updated_at) FROM changed_rows)) END;
    ELSE
        -- The same statement's UPDATE trigger took the lock and bumped the version.
        UPDATE data_version SET newest_update = (SELECT max(updated_at) FROM changed_rows)
        WHERE newest_update IS NULL OR newest_update < (SELECT max(updated_at) FROM changed_rows);
        SELECT array_agg(t.symbol), array_agg(t.size), array_agg(t.first_start) INTO symbols, sizes, starts
        FROM unnest(symbols, sizes, starts) AS t (symbol, size, first_start)
        WHERE NOT EXISTS (
            SELECT FROM jsonb_to_recordset(refreshed) AS r (symbol text, size interval, first_start timestamptz)
            WHERE r.symbol = t.symbol AND r.size = t.size AND r.first_start <= t.first_start);
    END IF;
    IF symbols IS NOT NULL THEN
        PERFORM refresh_candle_indicators(symbols, sizes, starts);
    END IF;
    IF TG_OP = 'UPDATE' THEN
        PERFORM set_config('stocks.serving_refreshed',
                           (SELECT jsonb_agg(t)::text FROM unnest(symbols, sizes, starts) AS t (symbol, size, first_start)),
                           true);
    END IF;
    IF TG_OP = 'DELETE' THEN
        DELETE FROM symbol_summary WHERE symbol IN (SELECT symbol FROM changed_rows);
        INSERT INTO symbol_summary (symbol, newest_window_end, updated_at)
        SELECT symbol, max(window_end), max(updated_at) FROM stock_aggregates
        WHERE symbol IN (SELECT symbol FROM changed_rows)
        GROUP BY symbol;
    ELSE
        INSERT INTO symbol_summary AS s (symbol, newest_window_end, updated_at)
        SELECT symbol, max(window_end), max(updated_at) FROM changed_rows GROUP BY symbol
        ON CONFLICT (symbol) DO UPDATE
        SET newest_window_end = greatest(s.newest_window_end, excluded.newest_window_end),
            updated_at = greatest(s.updated_at, excluded.updated_at);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION stock_aggregates_inserting()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM set_config('stocks.serving_refreshed', '', true);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION stock_aggregates_truncated()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    TRUNCATE candle_indicators_state, symbol_summary;
    UPDATE data_version SET version = version + 1, newest_update = NULL;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION data_changed()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE data_version SET version = version + 1;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER stock_aggregates_inserting BEFORE INSERT ON stock_aggregates
    FOR EACH STATEMENT EXECUTE FUNCTION stock_aggregates_inserting();
CREATE OR REPLACE TRIGGER stock_aggregates_inserted AFTER INSERT ON stock_aggregates
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION stock_aggregates_changed();
CREATE OR REPLACE TRIGGER stock_aggregates_updated AFTER UPDATE ON stock_aggregates
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stock_aggregates_changed();
CREATE OR REPLACE TRIGGER stock_aggregates_deleted AFTER DELETE ON stock_aggregates
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION stock_aggregates_changed();
CREATE OR REPLACE TRIGGER stock_aggregates_emptied AFTER TRUNCATE ON stock_aggregates
    FOR EACH STATEMENT EXECUTE FUNCTION stock_aggregates_truncated();
CREATE OR REPLACE TRIGGER rejected_events_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON rejected_events
    FOR EACH STATEMENT EXECUTE FUNCTION data_changed();

-- The first application over existing rows: every series from its first candle.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM candle_indicators_state) AND EXISTS (SELECT FROM stock_aggregates) THEN
        UPDATE data_version SET version = version + 1,  -- first: the writers' lock (see above)
                                newest_update = (SELECT max(updated_at) FROM stock_aggregates);
        PERFORM refresh_candle_indicators(array_agg(symbol), array_agg(size), array_agg('-infinity'::timestamptz))
        FROM (SELECT DISTINCT symbol, window_end - window_start AS size FROM stock_aggregates) series;
        INSERT INTO symbol_summary (symbol, newest_window_end, updated_at)
        SELECT symbol, max(window_end), max(updated_at) FROM stock_aggregates GROUP BY symbol
        ON CONFLICT (symbol) DO NOTHING;
    END IF;
END
$$;
