import pytest

from streaming.__main__ import parse_args
from streaming.durations import duration_seconds, parse_duration


@pytest.mark.parametrize(
    "text, normal, seconds",
    [
        ("1 minute", "1 minute", 60),
        ("5 minutes", "5 minutes", 300),
        ("30 seconds", "30 seconds", 30),
        (" 1 hours ", "1 hour", 3600),
        ("2 days", "2 days", 172800),
    ],
)
def test_durations(text, normal, seconds):
    assert parse_duration(text) == normal
    assert duration_seconds(normal) == seconds


@pytest.mark.parametrize("text", ["", "5", "0 minutes", "five minutes", "1 fortnight", "500 milliseconds"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_command_line_defaults_and_overrides():
    assert parse_args([]).windows == ("1 minute", "5 minutes")
    options = parse_args(["--windows", "1 minute, 15 minutes", "--available-now", "--watermark", "30 seconds"])
    assert options.windows == ("1 minute", "15 minutes")
    assert options.available_now and options.watermark == "30 seconds"


def test_a_zero_trigger_runs_batches_back_to_back():
    assert parse_args(["--trigger", "0 seconds"]).trigger == "0 seconds"
    assert parse_args(["--trigger", "250 milliseconds"]).trigger == "250 milliseconds"
    assert duration_seconds("250 milliseconds") == 0.25
    with pytest.raises(SystemExit):
        parse_args(["--windows", "0 minutes"])
