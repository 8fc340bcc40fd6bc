"""Argument types for the three command lines: a bad value is a one-line usage error naming the flag.

argparse prints an ArgumentTypeError's message after "argument --flag:"; any other exception from a
type function becomes "invalid <function name> value", so every check here raises that one.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
import re
from pathlib import Path

from common.settings import SettingsError, parse_symbols

HOSTNAME_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){HOSTNAME_LABEL}(\.{HOSTNAME_LABEL})*$")


def symbols(text: str) -> tuple[str, ...]:
    """Comma-separated tickers, as SYMBOLS takes them."""
    try:
        return parse_symbols(text)
    except SettingsError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("SYMBOLS: ")) from None


def whole_number(text: str) -> int:
    """Any whole number."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    value = whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _finite_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def positive_number(text: str) -> float:
    """A finite number above 0, fractions allowed."""
    value = _finite_number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text!r}")
    return value


def non_negative_number(text: str) -> float:
    """A finite number of 0 or more."""
    value = _finite_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text!r}")
    return value


def readable_file(text: str) -> Path:
    """An existing, readable file."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder, not a file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text!r}")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"cannot read {text!r}")
    return path


def writable_file(text: str) -> Path:
    """A file that can be appended to: an existing writable file, or a new one in a writable folder."""
    path = Path(text)
    if not text:
        raise argparse.ArgumentTypeError("needs a file name")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder, not a file")
    folder = path.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"no such folder: {str(folder)!r}")
    if not os.access(path if path.exists() else folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write to {text!r}")
    return path


def host(text: str) -> str:
    """A host name or an IP address to listen on."""
    if not HOSTNAME.match(text) and not _is_ip_address(text):
        raise argparse.ArgumentTypeError(f"not a host name or IP address: {text!r}")
    return text


def port(text: str) -> int:
    """A TCP port, 1 to 65535."""
    value = whole_number(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 1 to 65535, got {value}")
    return value


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
