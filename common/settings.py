"""Settings shared by the three processes, read from the environment and `.env`."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from common.contract import SYMBOL_PATTERN

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_SYMBOLS = ("AAPL", "MSFT", "GOOGL", "TSLA", "AMZN", "META", "NVDA", "NFLX")

# Every variable of the configuration contract with its default (DESIGN.md, .env.example).
DEFAULTS = {
    "FINNHUB_API_KEY": "",
    "FINNHUB_BASE_URL": "https://finnhub.io/api/v1",
    "FINNHUB_WS_URL": "wss://ws.finnhub.io",
    "FINNHUB_MAX_CALLS_PER_MINUTE": "60",
    "FINNHUB_MAX_CALLS_PER_SECOND": "30",
    "FINNHUB_TIMEOUT_SECONDS": "10",
    "SYMBOLS": ",".join(DEFAULT_SYMBOLS),
    "POLL_INTERVAL_SECONDS": "60",
    "KAFKA_BOOTSTRAP_SERVERS": "localhost:9092",
    "KAFKA_BROKERS": "1",
    "KAFKA_TOPIC": "stock-quotes",
    "KAFKA_DLQ_TOPIC": "stock-quotes-dlq",
    "DATABASE_URL": "postgresql://stocks:stocks@localhost:5433/stocks",
    "CHECKPOINT_DIR": "var/checkpoints",
    "WEB_DATABASE_URL": "",
    "WEB_POLL_SECONDS": "5",
}

class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names every bad variable."""


def parse_symbols(text: str) -> tuple[str, ...]:
    """Split a comma-separated ticker list into upper-case symbols, rejecting odd ones."""
    symbols = tuple(dict.fromkeys(s.strip().upper() for s in text.split(",") if s.strip()))
    if not symbols:
        raise SettingsError("SYMBOLS: at least one ticker is required")
    bad = [s for s in symbols if not SYMBOL_PATTERN.match(s)]
    if bad:
        raise SettingsError(f"SYMBOLS: not a ticker: {', '.join(bad)}")
    return symbols


def parse_positive_int(name: str, text: str) -> int:
    """Parse a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise SettingsError(f"{name}: not a whole number: {text!r}") from None
    if value < 1:
        raise SettingsError(f"{name}: must be at least 1, got {value}")
    return value


def parse_positive_seconds(name: str, text: str) -> float:
    """Parse a positive, finite number of seconds (fractions allowed)."""
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name}: not a number: {text!r}") from None
    if not (0 < value < float("inf")):
        raise SettingsError(f"{name}: must be a positive number of seconds, got {text!r}")
    return value


def mask_url_password(url: str) -> str:
    """Return the URL with its password replaced by ***, for logs and reprs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def libpq_url(url: str) -> str:
    """A SQLAlchemy-style URL (postgresql+psycopg2://...) as libpq accepts it (postgresql://...)."""
    scheme, sep, rest = url.partition("://")
    return scheme.split("+")[0] + sep + rest


@dataclasses.dataclass(frozen=True)
class Settings:
    """The configuration contract as one immutable object; secrets are masked in its repr."""

    finnhub_api_key: str = dataclasses.field(repr=False)
    finnhub_base_url: str
    finnhub_ws_url: str
    finnhub_max_calls_per_minute: int
    finnhub_max_calls_per_second: int
    finnhub_timeout_seconds: float
    symbols: tuple[str, ...]
    poll_interval_seconds: float
    kafka_bootstrap_servers: str
    kafka_brokers: int
    kafka_topic: str
    kafka_dlq_topic: str
    database_url: str = dataclasses.field(repr=False)
    checkpoint_dir: Path
    web_database_url: str = dataclasses.field(repr=False)
    web_poll_seconds: float

    def __repr__(self) -> str:
        key = "***" if self.finnhub_api_key else "''"
        return (
            f"Settings(finnhub_api_key={key}, finnhub_base_url={self.finnhub_base_url!r}, "
            f"finnhub_ws_url={self.finnhub_ws_url!r}, "
            f"finnhub_max_calls_per_minute={self.finnhub_max_calls_per_minute}, "
            f"finnhub_max_calls_per_second={self.finnhub_max_calls_per_second}, "
            f"finnhub_timeout_seconds={self.finnhub_timeout_seconds}, "
            f"symbols={self.symbols!r}, poll_interval_seconds={self.poll_interval_seconds!r}, "
            f"kafka_bootstrap_servers={self.kafka_bootstrap_servers!r}, kafka_brokers={self.kafka_brokers}, "
            f"kafka_topic={self.kafka_topic!r}, kafka_dlq_topic={self.kafka_dlq_topic!r}, "
            f"database_url={mask_url_password(self.database_url)!r}, "
            f"checkpoint_dir={str(self.checkpoint_dir)!r}, "
            f"web_database_url={mask_url_password(self.web_database_url)!r}, "
            f"web_poll_seconds={self.web_poll_seconds!r})"
        )

    __str__ = __repr__


def read_environment(env_file: Path | None = REPO_ROOT / ".env") -> dict[str, str]:
    """Merge defaults, `.env` and the process environment (the environment wins)."""
    values = dict(DEFAULTS)
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update({k: os.environ[k] for k in DEFAULTS if k in os.environ})
    return values


def build_settings(values: Mapping[str, str]) -> Settings:
    """Validate raw variables into Settings; one SettingsError lists every problem."""
    problems = []

    def take(name, parse):
        try:
            return parse(values.get(name, DEFAULTS[name]))
        except SettingsError as exc:
            problems.append(str(exc))
            return None

    def required(name):
        def parse(text):
            if not text.strip():
                raise SettingsError(f"{name}: must not be empty")
            return text.strip()

        return parse

    def database_url(text, name="DATABASE_URL"):
        scheme = urlsplit(text).scheme
        if not scheme.startswith("postgresql"):
            raise SettingsError(f"{name}: expected a postgresql:// URL, got {scheme or 'none'}")
        return text

    checkpoint = Path(values.get("CHECKPOINT_DIR", DEFAULTS["CHECKPOINT_DIR"]))
    settings = dict(
        finnhub_api_key=values.get("FINNHUB_API_KEY", "").strip(),
        finnhub_base_url=take("FINNHUB_BASE_URL", required("FINNHUB_BASE_URL")),
        finnhub_ws_url=take("FINNHUB_WS_URL", required("FINNHUB_WS_URL")),
        finnhub_max_calls_per_minute=take(
            "FINNHUB_MAX_CALLS_PER_MINUTE", lambda t: parse_positive_int("FINNHUB_MAX_CALLS_PER_MINUTE", t)
        ),
        finnhub_max_calls_per_second=take(
            "FINNHUB_MAX_CALLS_PER_SECOND", lambda t: parse_positive_int("FINNHUB_MAX_CALLS_PER_SECOND", t)
        ),
        finnhub_timeout_seconds=take(
            "FINNHUB_TIMEOUT_SECONDS", lambda t: parse_positive_seconds("FINNHUB_TIMEOUT_SECONDS", t)
        ),
        symbols=take("SYMBOLS", parse_symbols),
        poll_interval_seconds=take(
            "POLL_INTERVAL_SECONDS", lambda t: parse_positive_seconds("POLL_INTERVAL_SECONDS", t)
        ),
        kafka_bootstrap_servers=take("KAFKA_BOOTSTRAP_SERVERS", required("KAFKA_BOOTSTRAP_SERVERS")),
        kafka_brokers=take("KAFKA_BROKERS", lambda t: parse_positive_int("KAFKA_BROKERS", t)),
        kafka_topic=take("KAFKA_TOPIC", required("KAFKA_TOPIC")),
        kafka_dlq_topic=take("KAFKA_DLQ_TOPIC", required("KAFKA_DLQ_TOPIC")),
        database_url=take("DATABASE_URL", database_url),
        checkpoint_dir=checkpoint if checkpoint.is_absolute() else REPO_ROOT / checkpoint,
        web_database_url=take("WEB_DATABASE_URL", lambda t: database_url(t, "WEB_DATABASE_URL") if t.strip() else ""),
        web_poll_seconds=take("WEB_POLL_SECONDS", lambda t: parse_positive_seconds("WEB_POLL_SECONDS", t)),
    )
    if problems:
        raise SettingsError("invalid configuration: " + "; ".join(problems))
    return Settings(**settings)


def load_settings(env_file: Path | None = REPO_ROOT / ".env") -> Settings:
    """Settings for this process: defaults, then `.env`, then the environment."""
    return build_settings(read_environment(env_file))
