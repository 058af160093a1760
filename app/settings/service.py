"""The service's settings, read once from the environment and validated before it starts."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .parsers import (
    GIB,
    MIB,
    ConfigError,
    check_url,
    comma_list,
    container,
    number,
    secret,
    size,
    text,
)
from .security import SecuritySettings, load_security, parse_tokens
from .storage import DEFAULT_CONTAINER, StorageAuth, load_storage_auth

DIGESTS = ("sha256", "sha512", "sha1")
# How long browsers may cache a CORS preflight: the API's answers change with a deployment, so
# 10 minutes; the containers' (Swift's CORS metadata) change only with CORS_ORIGINS, so an hour.
API_PREFLIGHT_MAX_AGE = 600
STORAGE_PREFLIGHT_MAX_AGE = 3600
TTL_BOUNDS = {"TEMPURL_TTL": (1, 86_400), "DOWNLOAD_TTL": (1, 7 * 86_400)}
_ORIGIN = re.compile(
    r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:\d{1,5})?$"
)


def parse_origins(raw: str) -> tuple[str, ...]:
    origins = []
    for item in comma_list(raw):
        if "*" in item:
            raise ConfigError("CORS_ORIGINS must list exact origins; wildcards are not allowed")
        origin = item.rstrip("/")
        if not _ORIGIN.match(origin):
            raise ConfigError(
                f"CORS_ORIGINS entry {item!r} is not an origin like https://app.example.com"
            )
        origins.append(origin)
    return tuple(dict.fromkeys(origins))


def parse_webhook_url(env: Mapping[str, str]) -> str | None:
    url = text(env, "UPLOAD_WEBHOOK_URL")
    if url is None:
        return None
    check_url("UPLOAD_WEBHOOK_URL", url)
    if not text(env, "WEBHOOK_SECRET"):
        raise ConfigError("WEBHOOK_SECRET is not set (needed with UPLOAD_WEBHOOK_URL)")
    return url


@dataclass(frozen=True)
class Settings:
    storage: StorageAuth
    api_tokens: tuple[str, ...] = field(repr=False)
    container: str = DEFAULT_CONTAINER
    cors_origins: tuple[str, ...] = ()
    tempurl_ttl: int = 900
    download_ttl: int = 3600
    tempurl_key: str | None = field(default=None, repr=False)
    tempurl_digest: str = "sha256"
    storage_timeout: float = 10.0
    ready_cache_seconds: float = 2.0
    segment_threshold: int = 64 * MIB
    segment_size: int = 16 * MIB
    segment_container: str = ""  # empty: "<container>_segments"
    part_url_batch: int = 20
    upload_session_ttl: int = 86_400
    secret_key: str | None = field(default=None, repr=False)
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    # Authentication modes, upload policy, rate limits.
    security: SecuritySettings = field(default_factory=SecuritySettings)

    @property
    def segments_container(self) -> str:
        return self.segment_container or f"{self.container}_segments"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        digest = (text(env, "TEMPURL_DIGEST") or "sha256").lower()
        if digest not in DIGESTS:
            raise ConfigError(f"TEMPURL_DIGEST must be one of {', '.join(DIGESTS)}, got {digest!r}")
        return cls(
            storage=load_storage_auth(env),
            api_tokens=parse_tokens(env.get("API_TOKENS", "")),
            container=container(env, "UPLOAD_CONTAINER", DEFAULT_CONTAINER),
            cors_origins=parse_origins(env.get("CORS_ORIGINS", "")),
            tempurl_ttl=number(env, "TEMPURL_TTL", 900, *TTL_BOUNDS["TEMPURL_TTL"]),
            download_ttl=number(env, "DOWNLOAD_TTL", 3600, *TTL_BOUNDS["DOWNLOAD_TTL"]),
            tempurl_key=secret(env, "TEMPURL_KEY"),
            tempurl_digest=digest,
            storage_timeout=number(env, "STORAGE_TIMEOUT", 10.0, 0.1, 300.0, float),
            ready_cache_seconds=number(env, "READY_CACHE_SECONDS", 2.0, 0.0, 300.0, float),
            segment_threshold=size(env, "SEGMENT_THRESHOLD", 64 * MIB, 1, 5 * GIB),
            segment_size=size(env, "SEGMENT_SIZE", 16 * MIB, MIB, 5 * GIB),
            segment_container=container(env, "SEGMENT_CONTAINER", ""),
            part_url_batch=number(env, "PART_URL_BATCH", 20, 1, 1000),
            upload_session_ttl=number(env, "UPLOAD_SESSION_TTL", 86_400, 60, 30 * 86_400),
            secret_key=secret(env, "SECRET_KEY"),
            webhook_url=parse_webhook_url(env),
            webhook_secret=text(env, "WEBHOOK_SECRET"),
            security=load_security(env),
        )
