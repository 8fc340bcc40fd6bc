import pytest

from producer.validation import quote_problem

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
