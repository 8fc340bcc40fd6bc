import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.contract import (
    build_quote_message,
    build_trade_message,
    encode_key,
    encode_message,
    message_problem,
    trade_message_id,
)

QUOTE = {"c": 231.5, "d": 1.2, "dp": 0.52, "h": 232.0, "l": 229.1, "o": 230.0, "pc": 230.3, "t": 1_763_000_000}


def test_quote_message_follows_the_contract():
    message = build_quote_message("AAPL", QUOTE, ingested_at_ms=1_763_000_001_234)
    assert message == {
        "id": "AAPL:q:1763000000",
        "symbol": "AAPL",
        "price": 231.5,
        "volume": None,
        "event_time": 1_763_000_000_000,
        "source": "finnhub",
        "ingested_at": 1_763_000_001_234,
        "open": 230.0,
        "high": 232.0,
        "low": 229.1,
        "prev_close": 230.3,
    }
    assert message_problem(message) is None


def test_the_same_quote_fetched_twice_has_the_same_id():
    first = build_quote_message("AAPL", QUOTE, ingested_at_ms=1)
    again = build_quote_message("AAPL", dict(QUOTE), ingested_at_ms=2)
    later = build_quote_message("AAPL", {**QUOTE, "t": QUOTE["t"] + 60}, ingested_at_ms=3)
    assert first["id"] == again["id"] != later["id"]


def test_encoding_is_compact_json_keyed_by_symbol():
    message = build_trade_message(
        message_id="x",
        symbol="MSFT",
        price=10,
        volume=5,
        event_time_ms=1_763_000_000_000,
        source="synthetic",
        ingested_at_ms=1_763_000_000_001,
    )
    assert json.loads(encode_message(message)) == message
    assert encode_key(message) == b"MSFT"


def test_encoding_refuses_nan():
    with pytest.raises(ValueError):
        encode_message({"symbol": "A", "price": math.nan})


GOOD = {
    "id": "a",
    "symbol": "AAPL",
    "price": 1.5,
    "volume": None,
    "event_time": 1_763_000_000_000,
    "source": "replay",
    "ingested_at": 1_763_000_000_000,
}


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"price": 0}, "price is not positive"),
        ({"price": -3.0}, "price is not positive"),
        ({"price": "1.5"}, "price is not a finite number"),
        ({"price": True}, "price is not a finite number"),
        ({"price": None}, "missing field price"),
        ({"event_time": 1.5}, "event_time is not an integer"),
        ({"symbol": 7}, "symbol is not a string"),
        ({"symbol": "aapl"}, "not a ticker symbol"),
        ({"source": "elsewhere"}, "unknown source"),
        ({"volume": float("inf")}, "volume is not a finite number"),
    ],
)
def test_message_problems_are_named(change, reason):
    assert reason in message_problem({**GOOD, **change})


def test_not_an_object_is_a_problem():
    assert message_problem([GOOD]) == "not a JSON object"
    assert message_problem(GOOD) is None


def test_equal_trades_in_one_frame_get_distinct_ids_and_a_resend_the_same():
    first = trade_message_id("AAPL", 1, 2.5, 100, 0)
    assert first == trade_message_id("AAPL", 1, 2.5, 100, 0)
    assert first != trade_message_id("AAPL", 1, 2.5, 100, 1)


@given(
    st.dictionaries(
        st.sampled_from([*list(GOOD), "x"]),
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    )
)
def test_any_message_shape_gets_a_verdict_never_an_exception(change):
    problem = message_problem({**GOOD, **change})
    assert problem is None or isinstance(problem, str)
