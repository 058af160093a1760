"""The parsers every settings model shares: one per kind of value, each naming its variable.

Every problem raises :class:`ConfigError` with one line that names the variable, so start-up can
print it and stop instead of dumping a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

MIB = 1024**2
GIB = 1024**3
MIN_SECRET_LENGTH = 16
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")
_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_CONTAINER = re.compile(r"^[^/\x00-\x1f\x7f]{1,256}$")


class ConfigError(ValueError):
    """A missing or invalid setting; the message names the environment variable."""


def text(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    """The stripped value, or ``default`` when unset or blank."""
    return env.get(name, "").strip() or default


def comma_list(raw: str) -> list[str]:
    """The non-empty, stripped items of a comma-separated setting."""
    return [item for item in (part.strip() for part in raw.split(",")) if item]


def flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw not in _TRUE + _FALSE:
        raise ConfigError(f"{name} must be 1 or 0 (or true/false, yes/no, on/off), got {raw!r}")
    return raw in _TRUE


def check_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
    return value


def url(env: Mapping[str, str], name: str) -> str | None:
    raw = text(env, name)
    return None if raw is None else check_url(name, raw)


def number(
    env: Mapping[str, str], name: str, default: float, low: float, high: float, kind: type = int
) -> Any:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{name} must be {what}, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g}, got {value:g}")
    return value


def parse_size(text: str) -> int:
    """Bytes from ``16777216``, ``16M``, ``16MiB`` or ``1g`` (binary units)."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r} (e.g. 16777216 or 16M)")
    return int(match[1]) * _SIZE_UNITS[match[2].lower()]


def size(env: Mapping[str, str], name: str, default: int | None, low: int, high: int) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = parse_size(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high} bytes, got {value}")
    return value


def secret(env: Mapping[str, str], name: str) -> str | None:
    value = text(env, name)
    if value is not None and len(value) < MIN_SECRET_LENGTH:
        raise ConfigError(f"{name} must be at least {MIN_SECRET_LENGTH} characters")
    return value


def container(env: Mapping[str, str], name: str, default: str) -> str:
    value = text(env, name, default) or ""
    if value and (not _CONTAINER.match(value) or len(value.encode()) > 256):
        raise ConfigError(f"{name} must be 1-256 bytes with no '/' or control characters")
    return value
