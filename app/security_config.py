"""Settings of issue 6: authentication modes, upload policy, rate limits, trusted proxies.

Read with the rest of :class:`app.config.Settings` (its ``security`` field), validated at start-up;
every problem raises ``ConfigError`` naming the variable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from limits import parse_many

from .config import ConfigError, comma_list, parse_number
from .config import parse_size as parse_bytes

AUTH_MODES = ("token", "jwt")
ASYMMETRIC_ALGORITHMS = ("RS256", "ES256")
LIMIT_STORAGE_SCHEMES = (
    "memory",
    "redis",
    "rediss",
    "redis+unix",
    "redis+sentinel",
    "redis+cluster",
    "memcached",
)
_MEDIA_PATTERN = re.compile(r"^([a-z0-9!#$&^_.+-]+|\*)/([a-z0-9!#$&^_.+-]+|\*)$")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


@dataclass(frozen=True)
class JwtSettings:
    secret: str | None = field(default=None, repr=False)  # HS256
    jwks_url: str | None = None  # RS256 / ES256
    audience: str | None = None
    issuer: str | None = None
    leeway: int = 30
    jwks_cache_seconds: int = 300
    jwks_cooldown_seconds: int = 30
    timeout: float = 5.0


@dataclass(frozen=True)
class PolicySettings:
    max_upload_size: int | None = None
    allowed_content_types: tuple[str, ...] = ()  # empty: any
    subject_prefix: bool = False
    bind_ip: bool = False
    expire_after: int | None = None
    trusted_proxies: int = 0


@dataclass(frozen=True)
class LimitSettings:
    per_subject: str | None = None
    per_ip: str | None = None
    storage_uri: str = field(default="memory://", repr=False)  # may hold a password


@dataclass(frozen=True)
class SecuritySettings:
    auth_modes: tuple[str, ...] = ("token",)
    jwt: JwtSettings = field(default_factory=JwtSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    limits: LimitSettings = field(default_factory=LimitSettings)


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def parse_size(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = parse_bytes(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ConfigError(f"{name} must be a positive size like 10485760 or 10M, got {raw!r}")
    return value


def parse_content_types(raw: str) -> tuple[str, ...]:
    patterns = []
    for item in (part.lower() for part in comma_list(raw)):
        match = _MEDIA_PATTERN.match(item)
        if not match or (match[1] == "*" and match[2] != "*"):
            raise ConfigError(
                f"ALLOWED_CONTENT_TYPES entry {item!r} is not like image/png, image/* or */*"
            )
        patterns.append(item)
    return tuple(patterns)


def parse_rate(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a rate like 120/minute, got {raw!r}") from None
    return raw


def _url(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name, "").strip()
    if raw and urlsplit(raw).scheme not in ("http", "https"):
        raise ConfigError(f"{name} must be an http(s) URL, got {raw!r}")
    return raw or None


def load_jwt(env: Mapping[str, str]) -> JwtSettings:
    secret = env.get("JWT_SECRET", "").strip() or None
    if secret is not None and len(secret.encode()) < 32:
        # RFC 7518 3.2: an HS256 key must be at least as long as the hash (256 bits).
        raise ConfigError("JWT_SECRET must be at least 32 bytes")
    jwks_url = _url(env, "JWT_JWKS_URL")
    audience = env.get("JWT_AUDIENCE", "").strip() or None
    if jwks_url and not audience:
        # An identity provider signs tokens for many applications; only `aud` says it is ours.
        raise ConfigError("JWT_AUDIENCE is not set (needed with JWT_JWKS_URL)")
    return JwtSettings(
        secret=secret,
        jwks_url=jwks_url,
        audience=audience,
        issuer=env.get("JWT_ISSUER", "").strip() or None,
        leeway=parse_number(env, "JWT_LEEWAY", 30, 0, 300),
        jwks_cache_seconds=parse_number(env, "JWT_JWKS_CACHE_SECONDS", 300, 1, 86_400),
        jwks_cooldown_seconds=parse_number(env, "JWT_JWKS_COOLDOWN", 30, 0, 3600),
    )


def auth_modes(env: Mapping[str, str], jwt: JwtSettings) -> tuple[str, ...]:
    configured = {
        "token": bool(env.get("API_TOKENS", "").strip()),
        "jwt": bool(jwt.secret or jwt.jwks_url),
    }
    raw = env.get("AUTH_MODE", "").strip().lower()
    if not raw:
        modes = tuple(mode for mode in AUTH_MODES if configured[mode])
        if not modes:
            raise ConfigError(
                "API_TOKENS is not set: give at least one bearer token "
                "(or JWT_SECRET / JWT_JWKS_URL for JWT)"
            )
        return modes
    modes = tuple(dict.fromkeys(comma_list(raw)))
    for mode in modes:
        if mode not in AUTH_MODES:
            raise ConfigError(f"AUTH_MODE must list {' and/or '.join(AUTH_MODES)}, got {mode!r}")
        if not configured[mode]:
            needed = "API_TOKENS" if mode == "token" else "JWT_SECRET or JWT_JWKS_URL"
            raise ConfigError(f"AUTH_MODE includes {mode!r} but {needed} is not set")
    return modes


def load_policy(env: Mapping[str, str]) -> PolicySettings:
    expire_raw = env.get("UPLOAD_EXPIRE_AFTER", "").strip()
    return PolicySettings(
        max_upload_size=parse_size(env, "MAX_UPLOAD_SIZE"),
        allowed_content_types=parse_content_types(env.get("ALLOWED_CONTENT_TYPES", "")),
        subject_prefix=_flag(env, "UPLOAD_SUBJECT_PREFIX"),
        bind_ip=_flag(env, "UPLOAD_BIND_IP"),
        expire_after=(
            parse_number(env, "UPLOAD_EXPIRE_AFTER", 0, 1, 10 * 366 * 86_400)
            if expire_raw
            else None
        ),
        trusted_proxies=parse_number(env, "TRUSTED_PROXIES", 0, 0, 10),
    )


def load_limits(env: Mapping[str, str]) -> LimitSettings:
    uri = env.get("RATELIMIT_STORAGE_URI", "").strip() or "memory://"
    if urlsplit(uri).scheme not in LIMIT_STORAGE_SCHEMES:
        raise ConfigError(
            f"RATELIMIT_STORAGE_URI must start with one of "
            f"{', '.join(s + '://' for s in LIMIT_STORAGE_SCHEMES)}"
        )
    return LimitSettings(
        per_subject=parse_rate(env, "RATE_LIMIT"),
        per_ip=parse_rate(env, "RATE_LIMIT_PER_IP"),
        storage_uri=uri,
    )


def load_security(env: Mapping[str, str]) -> SecuritySettings:
    jwt = load_jwt(env)
    return SecuritySettings(
        auth_modes=auth_modes(env, jwt),
        jwt=jwt,
        policy=load_policy(env),
        limits=load_limits(env),
    )
