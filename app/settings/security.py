"""Security settings: API tokens, JWTs, the upload policy, rate limits, trusted proxies."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from limits import parse_many

from .parsers import MIN_SECRET_LENGTH, ConfigError, comma_list, flag, number, size, text, url

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
MAX_UPLOAD_SIZE_LIMIT = 1024**5  # a petabyte: far above anything a store accepts
_MEDIA_PATTERN = re.compile(r"^([a-z0-9!#$&^_.+-]+|\*)/([a-z0-9!#$&^_.+-]+|\*)$")
SUBJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
_HASHED = re.compile(r"^(?P<subject>[^:]+):sha256:(?P<hex>[0-9A-Fa-f]{64})$")


@dataclass(frozen=True)
class ApiToken:
    """One ``API_TOKENS`` entry, kept only as the SHA-256 digest of the token."""

    subject: str
    digest: bytes = field(repr=False)


def bare_subject(token: str) -> str:
    # Never the token itself: a short hash names the caller in logs and object names.
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def _check_token(token: str) -> None:
    if len(token) < MIN_SECRET_LENGTH or any(c.isspace() for c in token):
        raise ConfigError(
            f"API_TOKENS entries must be at least {MIN_SECRET_LENGTH} characters without spaces"
        )


def _check_subject(subject: str) -> None:
    if not SUBJECT.match(subject):
        raise ConfigError(
            f"API_TOKENS subject {subject!r} must be 1-128 letters, digits or ._@+- "
            "(starting with a letter or digit)"
        )


def parse_token_entry(entry: str) -> ApiToken:
    """``subject:token``, ``subject:sha256:<hex>``, or a bare token (no ':', a hashed subject)."""
    hashed = _HASHED.match(entry)
    if hashed:
        _check_subject(hashed["subject"])
        return ApiToken(hashed["subject"], bytes.fromhex(hashed["hex"]))
    subject, sep, token = entry.partition(":")
    if not sep:
        _check_token(entry)
        return ApiToken(bare_subject(entry), hashlib.sha256(entry.encode()).digest())
    if token.startswith("sha256:"):
        raise ConfigError("API_TOKENS 'subject:sha256:<hex>' needs exactly 64 hex digits")
    _check_subject(subject)
    _check_token(token)
    return ApiToken(subject, hashlib.sha256(token.encode()).digest())


def parse_tokens(raw: str) -> tuple[str, ...]:
    """``API_TOKENS`` entries, each checked; empty when JWT alone is used."""
    tokens = tuple(comma_list(raw))
    for token in tokens:
        parse_token_entry(token)
    return tokens


def usable_token(raw: str) -> str | None:
    """The first token a client can send as it is (not a hash); for ``upload-signer dev``."""
    for entry in comma_list(raw):
        if _HASHED.match(entry):
            continue
        return entry.partition(":")[2] if ":" in entry else entry
    return None


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
    raw = text(env, name)
    if raw is None:
        return None
    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a rate like 120/minute, got {raw!r}") from None
    return raw


def load_jwt(env: Mapping[str, str]) -> JwtSettings:
    secret = text(env, "JWT_SECRET")
    if secret is not None and len(secret.encode()) < 32:
        # RFC 7518 3.2: an HS256 key must be at least as long as the hash (256 bits).
        raise ConfigError("JWT_SECRET must be at least 32 bytes")
    jwks_url = url(env, "JWT_JWKS_URL")
    audience = text(env, "JWT_AUDIENCE")
    if jwks_url and not audience:
        # An identity provider signs tokens for many applications; only `aud` says it is ours.
        raise ConfigError("JWT_AUDIENCE is not set (needed with JWT_JWKS_URL)")
    return JwtSettings(
        secret=secret,
        jwks_url=jwks_url,
        audience=audience,
        issuer=text(env, "JWT_ISSUER"),
        leeway=number(env, "JWT_LEEWAY", 30, 0, 300),
        jwks_cache_seconds=number(env, "JWT_JWKS_CACHE_SECONDS", 300, 1, 86_400),
        jwks_cooldown_seconds=number(env, "JWT_JWKS_COOLDOWN", 30, 0, 3600),
    )


def auth_modes(env: Mapping[str, str], jwt: JwtSettings) -> tuple[str, ...]:
    configured = {
        "token": bool(text(env, "API_TOKENS")),
        "jwt": bool(jwt.secret or jwt.jwks_url),
    }
    raw = (text(env, "AUTH_MODE") or "").lower()
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
    return PolicySettings(
        max_upload_size=size(env, "MAX_UPLOAD_SIZE", None, 1, MAX_UPLOAD_SIZE_LIMIT),
        allowed_content_types=parse_content_types(env.get("ALLOWED_CONTENT_TYPES", "")),
        subject_prefix=flag(env, "UPLOAD_SUBJECT_PREFIX"),
        bind_ip=flag(env, "UPLOAD_BIND_IP"),
        expire_after=number(env, "UPLOAD_EXPIRE_AFTER", None, 1, 10 * 366 * 86_400),
        trusted_proxies=number(env, "TRUSTED_PROXIES", 0, 0, 10),
    )


def load_limits(env: Mapping[str, str]) -> LimitSettings:
    uri = text(env, "RATELIMIT_STORAGE_URI", "memory://") or "memory://"
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
