"""Security settings: API tokens, JWTs, the upload policy, rate limits, trusted proxies."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Self

from limits import parse_many
from pydantic import BeforeValidator, Field, SecretStr, model_validator

from .parsers import (
    FLAG,
    MIN_SECRET_LENGTH,
    URL,
    ConfigError,
    choice,
    comma_list,
    listing,
    number,
    secret_length,
    size,
)
from .sources import EnvSettings

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


def _token_entry(entry: str) -> str:
    parse_token_entry(entry)
    return entry


def usable_token(raw: str) -> str | None:
    """The first token a client can send as it is (not a hash); for ``upload-signer dev``."""
    for entry in comma_list(raw):
        if _HASHED.match(entry):
            continue
        return entry.partition(":")[2] if ":" in entry else entry
    return None


def _content_type(item: str) -> str:
    pattern = item.lower()
    match = _MEDIA_PATTERN.match(pattern)
    if not match or (match[1] == "*" and match[2] != "*"):
        raise ValueError(f"entry {pattern!r} is not like image/png, image/* or */*")
    return pattern


def _rate(raw: str) -> str:
    try:
        parse_many(raw)
    except ValueError:
        raise ValueError(f"must be a rate like 120/minute, got {raw!r}") from None
    return raw


def _limit_storage(uri: str) -> str:
    scheme, sep, _ = uri.partition("://")
    if not sep or scheme not in LIMIT_STORAGE_SCHEMES:
        schemes = ", ".join(scheme + "://" for scheme in LIMIT_STORAGE_SCHEMES)
        raise ValueError(f"must start with one of {schemes}")
    return uri


RATE = BeforeValidator(_rate)


class JwtSettings(EnvSettings):
    """JWT bearer tokens: HS256 with a shared secret, or RS256 / ES256 from a JWKS."""

    # RFC 7518 3.2: an HS256 key must be at least as long as the hash (256 bits).
    secret: Annotated[SecretStr | None, secret_length(32, "bytes")] = Field(
        None, validation_alias="JWT_SECRET"
    )
    jwks_url: Annotated[str | None, URL] = Field(None, validation_alias="JWT_JWKS_URL")  # RS/ES
    audience: str | None = Field(None, validation_alias="JWT_AUDIENCE")
    issuer: str | None = Field(None, validation_alias="JWT_ISSUER")
    leeway: Annotated[int, number(0, 300)] = Field(30, validation_alias="JWT_LEEWAY")
    jwks_cache_seconds: Annotated[int, number(1, 86_400)] = Field(
        300, validation_alias="JWT_JWKS_CACHE_SECONDS"
    )
    jwks_cooldown_seconds: Annotated[int, number(0, 3600)] = Field(
        30, validation_alias="JWT_JWKS_COOLDOWN"
    )
    timeout: float = 5.0  # of a JWKS fetch; not a variable

    @property
    def configured(self) -> bool:
        return bool(self.secret or self.jwks_url)

    @model_validator(mode="after")
    def _audience_with_jwks(self) -> Self:
        if self.jwks_url and not self.audience:
            # An identity provider signs tokens for many applications; only `aud` says it is ours.
            raise ConfigError("JWT_AUDIENCE is not set (needed with JWT_JWKS_URL)")
        return self


class PolicySettings(EnvSettings):
    """What an upload may be, and what its URLs allow."""

    max_upload_size: Annotated[int | None, size(1, MAX_UPLOAD_SIZE_LIMIT)] = Field(
        None, validation_alias="MAX_UPLOAD_SIZE"
    )
    allowed_content_types: Annotated[tuple[str, ...], listing(_content_type)] = Field(
        (),
        validation_alias="ALLOWED_CONTENT_TYPES",  # empty: any
    )
    subject_prefix: Annotated[bool, FLAG] = Field(False, validation_alias="UPLOAD_SUBJECT_PREFIX")
    bind_ip: Annotated[bool, FLAG] = Field(False, validation_alias="UPLOAD_BIND_IP")
    expire_after: Annotated[int | None, number(1, 10 * 366 * 86_400)] = Field(
        None, validation_alias="UPLOAD_EXPIRE_AFTER"
    )
    trusted_proxies: Annotated[int, number(0, 10)] = Field(0, validation_alias="TRUSTED_PROXIES")


class LimitSettings(EnvSettings):
    """Rate limits per subject and per address, and where their counters live."""

    per_subject: Annotated[str | None, RATE] = Field(None, validation_alias="RATE_LIMIT")
    per_ip: Annotated[str | None, RATE] = Field(None, validation_alias="RATE_LIMIT_PER_IP")
    # A secret: redis://:password@host holds one.
    storage_secret: Annotated[SecretStr, BeforeValidator(_limit_storage)] = Field(
        SecretStr("memory://"), validation_alias="RATELIMIT_STORAGE_URI"
    )

    @property
    def storage_uri(self) -> str:
        """The URI as flask-limiter takes it."""
        return self.storage_secret.get_secret_value()


class SecuritySettings(EnvSettings):
    """Who may call (API tokens, JWTs), and the policy and limits their calls meet."""

    api_tokens: Annotated[tuple[str, ...], listing(_token_entry)] = Field(
        (),
        validation_alias="API_TOKENS",
        repr=False,
        exclude=True,  # may hold plain tokens
    )
    # Empty: every mode whose settings are given (see auth_modes).
    auth_mode: Annotated[tuple[str, ...], listing(choice(*AUTH_MODES))] = Field(
        (), validation_alias="AUTH_MODE"
    )
    jwt: JwtSettings = Field(default_factory=JwtSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SecuritySettings:
        return cls.read(
            env,
            jwt=JwtSettings.read(env),
            policy=PolicySettings.read(env),
            limits=LimitSettings.read(env),
        )

    def _configured(self, mode: str) -> bool:
        return bool(self.api_tokens) if mode == "token" else self.jwt.configured

    @property
    def auth_modes(self) -> tuple[str, ...]:
        return self.auth_mode or tuple(mode for mode in AUTH_MODES if self._configured(mode))

    @model_validator(mode="after")
    def _modes_have_their_settings(self) -> Self:
        if not self.auth_modes:
            raise ConfigError(
                "API_TOKENS is not set: give at least one bearer token "
                "(or JWT_SECRET / JWT_JWKS_URL for JWT)"
            )
        for mode in self.auth_mode:
            if not self._configured(mode):
                needed = "API_TOKENS" if mode == "token" else "JWT_SECRET or JWT_JWKS_URL"
                raise ConfigError(f"AUTH_MODE includes {mode!r} but {needed} is not set")
        return self
