"""One parser per kind of value, for the fields of every settings model.

A parser never names its variable: it raises ``ValueError`` with what follows the name ("must be
a whole number, got 'forever'") and :func:`app.settings.sources.one_line` puts the variable in
front. A rule that spans variables raises :class:`ConfigError` with the whole line instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, SecretStr

MIB = 1024**2
GIB = 1024**3
MIN_SECRET_LENGTH = 16
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")
_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_CONTAINER = re.compile(r"^[^/\x00-\x1f\x7f]{1,256}$")
_ORIGIN = re.compile(
    r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:\d{1,5})?$"
)


class ConfigError(ValueError):
    """A missing or invalid setting; the message names the environment variable."""


def comma_list(raw: str) -> list[str]:
    """The non-empty, stripped items of a comma-separated setting."""
    return [item for item in (part.strip() for part in raw.split(",")) if item]


def parse_size(text: str) -> int:
    """Bytes from ``16777216``, ``16M``, ``16MiB`` or ``1g`` (binary units)."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r} (e.g. 16777216 or 16M)")
    return int(match[1]) * _SIZE_UNITS[match[2].lower()]


def _shown(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _within(value: Any, low: float, high: float, unit: str = "") -> Any:
    if not low <= value <= high:
        raise ValueError(
            f"must be between {_shown(low)} and {_shown(high)}{unit}, got {_shown(value)}"
        )
    return value


def number(low: float, high: float, kind: type[int] | type[float] = int) -> BeforeValidator:
    """A whole number (or, with ``kind=float``, any number) from ``low`` to ``high``."""

    def parse(raw: str) -> Any:
        try:
            value = kind(raw)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise ValueError(f"must be {what}, got {raw!r}") from None
        return _within(value, low, high)

    return BeforeValidator(parse)


def size(low: int, high: int) -> BeforeValidator:
    """A size in bytes (see :func:`parse_size`) from ``low`` to ``high``."""

    def parse(raw: str) -> int:
        try:
            value = parse_size(raw)
        except ValueError as exc:
            raise ValueError(f"is {exc}") from None  # "MAX_UPLOAD_SIZE is not a size: ..."
        return _within(value, low, high, " bytes")

    return BeforeValidator(parse)


def _flag(raw: str) -> bool:
    value = raw.lower()
    if value not in _TRUE + _FALSE:
        raise ValueError(f"must be 1 or 0 (or true/false, yes/no, on/off), got {raw!r}")
    return value in _TRUE


# Our words and our one message, before pydantic's own bool parsing (which also takes "t", "y").
FLAG = BeforeValidator(_flag)


def check_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # an unclosed IPv6 bracket, say
        valid = False
    if not valid:
        raise ValueError(f"must be an http(s) URL, got {value!r}")
    return value


URL = AfterValidator(check_url)


def choice(*choices: str) -> Callable[[str], str]:
    """One of ``choices``, in any case."""

    def parse(raw: str) -> str:
        value = raw.lower()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    return parse


def one_of(*choices: str) -> BeforeValidator:
    return BeforeValidator(choice(*choices))


def secret_length(least: int = MIN_SECRET_LENGTH, unit: str = "characters") -> AfterValidator:
    """A secret of at least ``least`` characters (or, with ``unit="bytes"``, UTF-8 bytes)."""

    def check(value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if len(raw.encode() if unit == "bytes" else raw) < least:
            raise ValueError(f"must be at least {least} {unit}")
        return value

    return AfterValidator(check)


def listing(item: Callable[[str], str] = str) -> BeforeValidator:
    """A comma-separated list, each item checked by ``item``, duplicates dropped."""
    return BeforeValidator(lambda raw: tuple(dict.fromkeys(item(x) for x in comma_list(raw))))


def _origin(item: str) -> str:
    if "*" in item:
        raise ValueError("must list exact origins; wildcards are not allowed")
    origin = item.rstrip("/")
    if not _ORIGIN.match(origin):
        raise ValueError(f"entry {item!r} is not an origin like https://app.example.com")
    return origin


# Browser origins, as the Origin header sends them: no path, no trailing slash, no wildcard.
ORIGINS = listing(_origin)


def _container(value: str) -> str:
    if not _CONTAINER.match(value) or len(value.encode()) > 256:
        raise ValueError("must be 1-256 bytes with no '/' or control characters")
    return value


CONTAINER = AfterValidator(_container)
