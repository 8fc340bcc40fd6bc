import pytest

from producer.publisher import build_dead_letter
from producer.replay import message_from_csv_row, message_from_json_line, parse_timestamp


@pytest.mark.parametrize(
    "text, ms",
    [
        ("1795185000", 1_795_185_000_000),
        ("1795185000.25", 1_795_185_000_250),
        ("1795185000123", 1_795_185_000_123),
        ("2026-11-20T14:30:00Z", 1_795_185_000_000),
        ("2026-11-20T14:30:00", 1_795_185_000_000),
        ("2026-11-20T15:30:00+01:00", 1_795_185_000_000),
    ],
)
def test_timestamps_in_every_form(text, ms):
    assert parse_timestamp(text) == ms


def test_csv_rows_become_replayed_trades_with_stable_ids():
    message = message_from_csv_row(["msft", "1795185000", "420.5", "10"], line=3, now_ms=7)
    assert message == {
        "id": "MSFT:r:1795185000000:3",
        "symbol": "MSFT",
        "price": 420.5,
        "volume": 10.0,
        "event_time": 1_795_185_000_000,
        "source": "replay",
        "ingested_at": 7,
    }
    assert message_from_csv_row(["MSFT", "1795185000", "420.5"], line=3, now_ms=8)["volume"] is None


@pytest.mark.parametrize(
    "row",
    [
        ["AAPL", "1795185000"],
        ["AAPL", "1795185000", "x"],
        ["AAPL", "soon", "1"],
        ["AAPL", "1795185000", "nan"],
        ["AAPL", "1795185000", "0"],
    ],
)
def test_bad_csv_rows_raise_a_reason(row):
    with pytest.raises(ValueError):
        message_from_csv_row(row, line=1, now_ms=1)


def test_json_lines_keep_their_id_and_become_replay():
    line = (
        '{"id":"AAPL:q:1","symbol":"AAPL","price":1.5,"volume":null,"event_time":1795185000000,'
        '"source":"finnhub","ingested_at":1}'
    )
    message = message_from_json_line(line, now_ms=9)
    assert (message["id"], message["source"], message["ingested_at"]) == ("AAPL:q:1", "replay", 9)
    with pytest.raises(ValueError):
        message_from_json_line('{"id": 1}', now_ms=9)


def test_dead_letters_are_strict_json_even_for_nan():
    record = build_dead_letter(source="finnhub", symbol="A", raw={"c": float("nan")}, reason="r", now_ms=1)
    assert record["raw"] == "{'c': nan}"


def test_a_dead_letter_keeps_the_first_4000_characters_of_its_text_and_objects_whole():
    long_text = "x" * 4500
    assert build_dead_letter(source="replay", symbol=None, raw=long_text, reason="r", now_ms=1)["raw"] == "x" * 4000
    many = {"t": list(range(2000))}  # longer than 4000 characters as text, but JSON: kept as it came
    assert build_dead_letter(source="finnhub", symbol="A", raw=many, reason="r", now_ms=1)["raw"] == many
    not_json = [float("nan")] * 1000
    assert (
        build_dead_letter(source="finnhub", symbol="A", raw=not_json, reason="r", now_ms=1)["raw"]
        == repr(not_json)[:4000]
    )
