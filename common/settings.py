"""Settings shared by the three processes, read from the environment and `.env`."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dotenv import dotenv_values

from common.contract import SYMBOL_PATTERN

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_SYMBOLS = ("AAPL", "MSFT", "GOOGL", "TSLA", "AMZN", "META", "NVDA", "NFLX")


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names every bad variable."""


def parse_symbols(text: str, name: str = "SYMBOLS") -> tuple[str, ...]:
    """Split a comma-separated ticker list into upper-case symbols, rejecting odd ones."""
    symbols = tuple(dict.fromkeys(s.strip().upper() for s in text.split(",") if s.strip()))
    if not symbols:
        raise SettingsError(f"{name}: at least one ticker is required")
    bad = [s for s in symbols if not SYMBOL_PATTERN.match(s)]
    if bad:
        raise SettingsError(f"{name}: not a ticker: {', '.join(bad)}")
    return symbols


def parse_positive_int(text: str, name: str) -> int:
    """Parse a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise SettingsError(f"{name}: not a whole number: {text!r}") from None
    if value < 1:
        raise SettingsError(f"{name}: must be at least 1, got {value}")
    return value


def parse_positive_seconds(text: str, name: str) -> float:
    """Parse a positive, finite number of seconds (fractions allowed)."""
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name}: not a number: {text!r}") from None
    if not (0 < value < float("inf")):
        raise SettingsError(f"{name}: must be a positive number of seconds, got {text!r}")
    return value


def parse_text(text: str, name: str) -> str:
    """Any text, trimmed (empty allowed)."""
    return text.strip()


def parse_required(text: str, name: str) -> str:
    """Text that must not be empty, trimmed."""
    if not text.strip():
        raise SettingsError(f"{name}: must not be empty")
    return text.strip()


def parse_postgres_url(text: str, name: str) -> str:
    """A postgresql:// URL (SQLAlchemy's postgresql+driver:// too)."""
    scheme = urlsplit(text).scheme
    if not scheme.startswith("postgresql"):
        raise SettingsError(f"{name}: expected a postgresql:// URL, got {scheme or 'none'}")
    return text


def parse_optional_postgres_url(text: str, name: str) -> str:
    """A postgresql:// URL, or empty."""
    return parse_postgres_url(text, name) if text.strip() else ""


def parse_repo_path(text: str, name: str) -> Path:
    """A folder; a relative one is taken from the repository's root."""
    path = Path(text)
    return path if path.is_absolute() else REPO_ROOT / path


def setting(env: str, parse: Callable[[str, str], Any], default: str, secret: bool = False) -> Any:
    """A Settings field read from the variable `env` with `parse` (text, name), `default` when unset.
    A secret is masked wherever the settings are shown (a URL keeps all but its password)."""
    return dataclasses.field(metadata={"env": env, "parse": parse, "default": default, "secret": secret})


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
    """The configuration contract (DESIGN.md, .env.example) as one immutable object: one field per
    variable, each with its variable's name, parser and default; secrets are masked in its repr."""

    finnhub_api_key: str = setting("FINNHUB_API_KEY", parse_text, "", secret=True)
    finnhub_base_url: str = setting("FINNHUB_BASE_URL", parse_required, "https://finnhub.io/api/v1")
    finnhub_ws_url: str = setting("FINNHUB_WS_URL", parse_required, "wss://ws.finnhub.io")
    finnhub_max_calls_per_minute: int = setting("FINNHUB_MAX_CALLS_PER_MINUTE", parse_positive_int, "60")
    finnhub_max_calls_per_second: int = setting("FINNHUB_MAX_CALLS_PER_SECOND", parse_positive_int, "30")
    finnhub_timeout_seconds: float = setting("FINNHUB_TIMEOUT_SECONDS", parse_positive_seconds, "10")
    symbols: tuple[str, ...] = setting("SYMBOLS", parse_symbols, ",".join(DEFAULT_SYMBOLS))
    poll_interval_seconds: float = setting("POLL_INTERVAL_SECONDS", parse_positive_seconds, "60")
    kafka_bootstrap_servers: str = setting("KAFKA_BOOTSTRAP_SERVERS", parse_required, "localhost:9092")
    kafka_brokers: int = setting("KAFKA_BROKERS", parse_positive_int, "1")
    kafka_topic: str = setting("KAFKA_TOPIC", parse_required, "stock-quotes")
    kafka_dlq_topic: str = setting("KAFKA_DLQ_TOPIC", parse_required, "stock-quotes-dlq")
    database_url: str = setting(
        "DATABASE_URL", parse_postgres_url, "postgresql://stocks:stocks@localhost:5433/stocks", secret=True
    )
    checkpoint_dir: Path = setting("CHECKPOINT_DIR", parse_repo_path, "var/checkpoints")
    web_database_url: str = setting("WEB_DATABASE_URL", parse_optional_postgres_url, "", secret=True)
    web_poll_seconds: float = setting("WEB_POLL_SECONDS", parse_positive_seconds, "5")

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={_shown(getattr(self, f.name), f.metadata['secret'])}" for f in VARIABLES)
        return f"Settings({shown})"

    __str__ = __repr__


def _shown(value: object, secret: bool) -> str:
    if not secret:
        return repr(str(value) if isinstance(value, Path) else value)
    if not value:
        return "''"
    text = str(value)
    return repr(mask_url_password(text)) if "://" in text else "***"


VARIABLES = dataclasses.fields(Settings)
# Every variable of the configuration contract with its default (DESIGN.md, .env.example).
DEFAULTS = {f.metadata["env"]: f.metadata["default"] for f in VARIABLES}


def read_environment(env_file: Path | None = REPO_ROOT / ".env") -> dict[str, str]:
    """Merge defaults, `.env` and the process environment (the environment wins)."""
    values = dict(DEFAULTS)
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update({k: os.environ[k] for k in DEFAULTS if k in os.environ})
    return values


def build_settings(values: Mapping[str, str]) -> Settings:
    """Validate raw variables into Settings; one SettingsError lists every problem."""
    problems, parsed = [], {}
    for variable in VARIABLES:
        env = variable.metadata["env"]
        try:
            parsed[variable.name] = variable.metadata["parse"](values.get(env, DEFAULTS[env]), env)
        except SettingsError as exc:
            problems.append(str(exc))
    if problems:
        raise SettingsError("invalid configuration: " + "; ".join(problems))
    return Settings(**parsed)


def load_settings(env_file: Path | None = REPO_ROOT / ".env") -> Settings:
    """Settings for this process: defaults, then `.env`, then the environment."""
    return build_settings(read_environment(env_file))
