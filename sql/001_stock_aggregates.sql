-- stock_aggregates: one row per symbol per event-time window (contract in DESIGN.md).
-- Windows are tumbling and half-open [window_start, window_end); a row's window size is
-- window_end - window_start. The streaming job upserts rows while a window is open.
-- Idempotent: safe to apply again.
CREATE TABLE IF NOT EXISTS stock_aggregates (
    symbol          text             NOT NULL,
    window_start    timestamptz      NOT NULL,
    window_end      timestamptz      NOT NULL,
    open_price      double precision NOT NULL,
    high_price      double precision NOT NULL,
    low_price       double precision NOT NULL,
    close_price     double precision NOT NULL,
    avg_price       double precision NOT NULL,
    price_stddev    double precision,
    event_count     bigint           NOT NULL,
    volume          double precision,
    vwap            double precision,
    first_event_at  timestamptz      NOT NULL,
    last_event_at   timestamptz      NOT NULL,
    updated_at      timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, window_start, window_end),
    CHECK (window_end > window_start)
);

-- The webapp and the view below ask for the newest windows of one size per symbol.
CREATE INDEX IF NOT EXISTS stock_aggregates_symbol_size_start_idx
    ON stock_aggregates (symbol, (window_end - window_start), window_start DESC);
