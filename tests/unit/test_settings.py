import dataclasses
from pathlib import Path

import pytest
from dotenv import dotenv_values

from common.settings import (
    DEFAULT_SYMBOLS,
    DEFAULTS,
    Settings,
    SettingsError,
    build_settings,
    libpq_url,
    mask_url_password,
    parse_symbols,
    read_environment,
)


def test_defaults_give_the_contract_values():
    settings = build_settings(DEFAULTS)
    assert settings.symbols == DEFAULT_SYMBOLS
    assert settings.poll_interval_seconds == 60
    assert settings.kafka_topic == "stock-quotes"
    assert settings.kafka_dlq_topic == "stock-quotes-dlq"


def test_symbols_are_upper_cased_trimmed_and_deduplicated():
    assert parse_symbols(" aapl, MSFT ,aapl,,brk.b") == ("AAPL", "MSFT", "BRK.B")


@pytest.mark.parametrize("text", ["", " , ", "AAPL,<script>", "AAPL,TOO-LONG-FOR-A-TICKER-SYMBOL"])
def test_bad_symbol_lists_are_refused(text):
    with pytest.raises(SettingsError, match="SYMBOLS"):
        parse_symbols(text)


def test_fractional_poll_interval_is_allowed():
    assert build_settings({**DEFAULTS, "POLL_INTERVAL_SECONDS": "0.25"}).poll_interval_seconds == 0.25


def test_every_bad_variable_is_named_at_once():
    with pytest.raises(SettingsError) as error:
        build_settings({**DEFAULTS, "POLL_INTERVAL_SECONDS": "-1", "SYMBOLS": "", "DATABASE_URL": "mysql://x/y"})
    message = str(error.value)
    assert "POLL_INTERVAL_SECONDS" in message and "SYMBOLS" in message and "DATABASE_URL" in message


def test_repr_hides_the_api_key_and_the_database_password():
    settings = build_settings(
        {**DEFAULTS, "FINNHUB_API_KEY": "sekret-key-123", "DATABASE_URL": "postgresql://u:pw-456@h:1/d"}
    )
    shown = repr(settings) + str(settings)
    assert "sekret-key-123" not in shown
    assert "pw-456" not in shown
    assert "postgresql://u:***@h:1/d" in shown


def test_environment_overrides_dotenv_which_overrides_defaults(tmp_path: Path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("KAFKA_TOPIC=from-dotenv\nKAFKA_DLQ_TOPIC=dlq-from-dotenv\n")
    monkeypatch.setenv("KAFKA_TOPIC", "from-environment")
    monkeypatch.delenv("KAFKA_DLQ_TOPIC", raising=False)
    values = read_environment(env_file)
    assert values["KAFKA_TOPIC"] == "from-environment"
    assert values["KAFKA_DLQ_TOPIC"] == "dlq-from-dotenv"
    assert values["SYMBOLS"] == DEFAULTS["SYMBOLS"]


def test_urls_for_libpq_and_logs():
    assert libpq_url("postgresql+psycopg2://u:p@h:5/d") == "postgresql://u:p@h:5/d"
    assert mask_url_password("postgresql://u@h/d") == "postgresql://u@h/d"


def test_env_example_lists_every_variable_with_its_default(repo_root):
    example = dotenv_values(repo_root / ".env.example")
    assert sorted(example) == sorted(DEFAULTS)
    # the one exception, which its comment names: the read-only role of `make stack`
    assert example.pop("WEB_DATABASE_URL") == "postgresql://stocks_reader:stocks_reader@localhost:5433/stocks"
    assert example == {name: value for name, value in DEFAULTS.items() if name != "WEB_DATABASE_URL"}


def test_every_variable_is_one_settings_field_with_its_parser_default_and_secrecy():
    fields = dataclasses.fields(Settings)
    assert [f.metadata["env"] for f in fields] == list(DEFAULTS)
    assert all(f.name == f.metadata["env"].lower() for f in fields)
    assert {f.metadata["env"] for f in fields if f.metadata["secret"]} == {
        "FINNHUB_API_KEY",
        "DATABASE_URL",
        "WEB_DATABASE_URL",
    }
