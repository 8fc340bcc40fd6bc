import pytest
from hypothesis import given
from hypothesis import strategies as st

from producer.validation import quote_problem, trade_problem

NOW = 1_763_000_000.0
GOOD = {"c": 231.5, "h": 232.0, "l": 229.1, "o": 230.0, "pc": 230.3, "t": 1_762_999_000}


def test_a_real_quote_passes():
    assert quote_problem(GOOD, NOW) is None


@pytest.mark.parametrize(
    "quote, fragment",
    [
        ({"c": 0, "d": None, "dp": None, "h": 0, "l": 0, "o": 0, "pc": 0, "t": 0}, "zero or negative"),
        ({**GOOD, "c": None}, "no price"),
        ({**GOOD, "c": "231.5"}, "not a finite number"),
        ({**GOOD, "c": float("nan")}, "not a finite number"),
        ({**GOOD, "t": 0}, "not a real time"),
        ({**GOOD, "t": None}, "not an integer"),
        ({**GOOD, "t": int(NOW) + 3 * 86_400}, "in the future"),
        (["not", "a", "dict"], "not a JSON object"),
        ("<html>error</html>", "not a JSON object"),
    ],
)
def test_unusable_quotes_are_rejected_with_a_reason(quote, fragment):
    assert fragment in quote_problem(quote, NOW)


NOW_MS = int(NOW * 1000)
TRADE = {"s": "AAPL", "p": 231.5, "t": NOW_MS - 500, "v": 100, "c": ["1", "8"]}


def test_a_real_trade_passes():
    assert trade_problem(TRADE, NOW_MS) is None
    assert trade_problem({**TRADE, "v": None}, NOW_MS) is None


@pytest.mark.parametrize(
    "trade, fragment",
    [
        ({**TRADE, "p": 0}, "price"),
        ({**TRADE, "p": "231.5"}, "price"),
        ({**TRADE, "s": "aapl"}, "symbol"),
        ({**TRADE, "s": None}, "symbol"),
        ({**TRADE, "t": NOW_MS // 1000}, "not a real time in milliseconds"),
        ({**TRADE, "t": 1.5}, "not an integer"),
        ({**TRADE, "v": -1}, "volume"),
        ("AAPL", "not a JSON object"),
    ],
)
def test_unusable_trades_are_rejected_with_a_reason(trade, fragment):
    assert fragment in trade_problem(trade, NOW_MS)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=5),
    max_leaves=20,
)
quote_like = st.dictionaries(st.sampled_from(["c", "t", "h", "l", "o", "pc", "x"]), json_values, max_size=7)


@given(st.one_of(json_values, quote_like))
def test_any_json_is_accepted_or_rejected_with_a_reason_never_an_exception(value):
    for problem in (quote_problem(value, NOW), trade_problem(value, NOW_MS)):
        assert problem is None or isinstance(problem, str)
