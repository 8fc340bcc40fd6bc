-- stock_window_state: the streaming job's running state of each window it may still change.
-- A micro-batch brings a partial aggregate of each window it touches; folding it into a window
-- exactly needs more than the window's row in stock_aggregates holds: the time and id of the open
-- and close events (equal times are ordered by id), and the sums behind the mean, the sample
-- variance (price_m2 = sum of squared deviations from the mean) and VWAP. One row per query (a
-- checkpoint: a new checkpoint starts from nothing, so its windows replace the table's rows rather
-- than add to them), symbol and window. The job deletes the rows of windows that end by a batch's
-- watermark (no later batch accepts an event for them), and those of earlier checkpoints no job holds.
-- Internal: read stock_aggregates.
CREATE TABLE IF NOT EXISTS stock_window_state (
    query_id         text             NOT NULL,
    symbol           text             NOT NULL,
    window_start     timestamptz      NOT NULL,
    window_end       timestamptz      NOT NULL,
    open_ms          bigint           NOT NULL,
    open_id          text             NOT NULL,
    open_price       double precision NOT NULL,
    close_ms         bigint           NOT NULL,
    close_id         text             NOT NULL,
    close_price      double precision NOT NULL,
    high_price       double precision NOT NULL,
    low_price        double precision NOT NULL,
    event_count      bigint           NOT NULL,
    price_sum        double precision NOT NULL,
    price_m2         double precision NOT NULL,
    volume           double precision,
    price_volume_sum double precision,
    PRIMARY KEY (query_id, symbol, window_start, window_end)
);
