from datetime import UTC, datetime

import pytest

from webapp import params


def test_defaults_and_good_values():
    assert params.window_seconds(None) == 60 and params.window_seconds("1h") == 3600
    assert params.symbol(" brk.b ") == "BRK.B"
    assert params.optional_symbol(None) is None and params.optional_symbol("msft") == "MSFT"
    assert params.limit(None) == 200 and params.limit("2000") == 2000
    assert params.since(None) is None
    assert params.since("2026-11-20T14:30:00Z") == datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
    assert params.since("2026-11-20T14:30:00") == datetime(2026, 11, 20, 14, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "parse, value, name",
    [
        (params.window_seconds, "2m", "window"),
        (params.symbol, "", "symbol"),
        (params.symbol, "A B", "symbol"),
        (params.optional_symbol, "", "symbol"),
        (params.limit, "-1", "limit"),
        (params.limit, "1.5", "limit"),
        (params.since, "soon", "since"),
    ],
)
def test_bad_values_name_their_parameter(parse, value, name):
    with pytest.raises(params.BadParameter) as error:
        parse(value)
    assert error.value.name == name and str(error.value).startswith(f"{name}: ")
