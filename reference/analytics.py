"""An independent, plain-Python computation of the analytics views (sql/005-009) from candle rows.

Written from the definitions in the views' header comments, not from their SQL, so the two can
disagree. A candle is a dict with symbol, window_start, window_end, open_price, close_price."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import UTC, timedelta

SPIKE_THRESHOLD_PCT = 2.0


def _series(candles: list[dict]) -> dict[tuple, list[dict]]:
    """{(symbol, window size): candles oldest first}."""
    series = defaultdict(list)
    for candle in candles:
        series[(candle["symbol"], candle["window_end"] - candle["window_start"])].append(candle)
    return {key: sorted(rows, key=lambda c: c["window_start"]) for key, rows in series.items()}


def _key(candle: dict) -> tuple:
    return candle["symbol"], candle["window_start"], candle["window_end"]


def _mean_of_last(values: list[float], index: int, count: int) -> float | None:
    if index + 1 < count:
        return None
    return math.fsum(values[index + 1 - count : index + 1]) / count


def _ema(values: list[float], periods: int) -> list[float]:
    alpha = 2 / (periods + 1)
    averages, state = [], None
    for value in values:
        state = value if state is None else alpha * value + (1 - alpha) * state
        averages.append(state)
    return averages


def indicators(candles: list[dict]) -> dict[tuple, dict]:
    """candle_indicators: {(symbol, start, end): sma_5, sma_20, ema_5, ema_20, bollinger bands}."""
    result = {}
    for rows in _series(candles).values():
        closes = [c["close_price"] for c in rows]
        ema_5, ema_20 = _ema(closes, 5), _ema(closes, 20)
        for i, candle in enumerate(rows):
            sma_20 = _mean_of_last(closes, i, 20)
            spread = None if sma_20 is None else 2 * statistics.stdev(closes[i - 19 : i + 1])
            result[_key(candle)] = {
                "candle_number": i + 1,
                "sma_5": _mean_of_last(closes, i, 5),
                "sma_20": sma_20,
                "ema_5": ema_5[i],
                "ema_20": ema_20[i],
                "bollinger_upper": None if spread is None else sma_20 + spread,
                "bollinger_lower": None if spread is None else sma_20 - spread,
            }
    return result


def returns(candles: list[dict], previous: int = 20) -> dict[tuple, dict]:
    """candle_returns: {(symbol, start, end): previous_close, return_pct, return_zscore}."""
    result = {}
    for rows in _series(candles).values():
        closes = [c["close_price"] for c in rows]
        pcts = [None] + [(closes[i] / closes[i - 1] - 1) * 100 for i in range(1, len(closes))]
        for i, candle in enumerate(rows):
            prior = [p for p in pcts[max(0, i - previous) : i] if p is not None]
            zscore = None
            if len(prior) == previous and statistics.stdev(prior) != 0:
                zscore = (pcts[i] - statistics.fmean(prior)) / statistics.stdev(prior)
            result[_key(candle)] = {
                "previous_close": closes[i - 1] if i else None,
                "return_pct": pcts[i],
                "return_zscore": zscore,
            }
    return result


def spikes(candles: list[dict], threshold_pct: float = SPIKE_THRESHOLD_PCT) -> dict[tuple, float]:
    """price_spikes: {(symbol, start, end): change_pct} of candles that moved >= threshold from open."""
    found = {}
    for candle in candles:
        change = (candle["close_price"] / candle["open_price"] - 1) * 100
        if abs(change) >= threshold_pct:
            found[_key(candle)] = change
    return found


def movers(candles: list[dict]) -> dict[tuple, list[tuple]]:
    """top_movers: {(window size, period): [(symbol, change_pct, candles), ...] biggest move first}."""
    newest = max(c["window_start"] for c in candles)
    utc_day = newest.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    periods = {
        "hour": lambda start: start > newest - timedelta(hours=1),
        "day": lambda start: start >= utc_day,
    }
    ranked = {}
    for (symbol, size), rows in _series(candles).items():
        for period, includes in periods.items():
            inside = [c for c in rows if includes(c["window_start"])]
            if inside:
                change = (inside[-1]["close_price"] / inside[0]["open_price"] - 1) * 100
                ranked.setdefault((size, period), []).append((symbol, change, len(inside)))
    return {key: sorted(moves, key=lambda m: (-abs(m[1]), m[0])) for key, moves in ranked.items()}
