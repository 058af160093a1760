"""The service's settings, read once from the environment and validated before it starts."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Self

from pydantic import Field, SecretStr, model_validator

from .parsers import (
    CONTAINER,
    GIB,
    MIB,
    ORIGINS,
    URL,
    ConfigError,
    number,
    one_of,
    secret_length,
    size,
)
from .security import SecuritySettings
from .sources import EnvSettings
from .storage import DEFAULT_CONTAINER, StorageAuth, load_storage_auth

DIGESTS = ("sha256", "sha512", "sha1")
# How long browsers may cache a CORS preflight: the API's answers change with a deployment, so
# 10 minutes; the containers' (Swift's CORS metadata) change only with CORS_ORIGINS, so an hour.
API_PREFLIGHT_MAX_AGE = 600
STORAGE_PREFLIGHT_MAX_AGE = 3600


class Settings(EnvSettings):
    """The service: containers, URL lifetimes, segments, webhooks; storage and security as parts."""

    storage: StorageAuth  # the provider's auth, see storage.PROVIDERS
    # Authentication modes and API tokens, upload policy, rate limits.
    security: SecuritySettings
    container: Annotated[str, CONTAINER] = Field(
        DEFAULT_CONTAINER, validation_alias="UPLOAD_CONTAINER"
    )
    cors_origins: Annotated[tuple[str, ...], ORIGINS] = Field((), validation_alias="CORS_ORIGINS")
    tempurl_ttl: Annotated[int, number(1, 86_400)] = Field(900, validation_alias="TEMPURL_TTL")
    download_ttl: Annotated[int, number(1, 7 * 86_400)] = Field(
        3600, validation_alias="DOWNLOAD_TTL"
    )
    tempurl_key: Annotated[SecretStr | None, secret_length()] = Field(
        None, validation_alias="TEMPURL_KEY"
    )
    tempurl_digest: Annotated[str, one_of(*DIGESTS)] = Field(
        "sha256", validation_alias="TEMPURL_DIGEST"
    )
    storage_timeout: Annotated[float, number(0.1, 300.0, float)] = Field(
        10.0, validation_alias="STORAGE_TIMEOUT"
    )
    ready_cache_seconds: Annotated[float, number(0.0, 300.0, float)] = Field(
        2.0, validation_alias="READY_CACHE_SECONDS"
    )
    segment_threshold: Annotated[int, size(1, 5 * GIB)] = Field(
        64 * MIB, validation_alias="SEGMENT_THRESHOLD"
    )
    segment_size: Annotated[int, size(MIB, 5 * GIB)] = Field(
        16 * MIB, validation_alias="SEGMENT_SIZE"
    )
    # Empty: "<container>_segments" (see segments_container).
    segment_container: Annotated[str, CONTAINER] = Field("", validation_alias="SEGMENT_CONTAINER")
    part_url_batch: Annotated[int, number(1, 1000)] = Field(20, validation_alias="PART_URL_BATCH")
    # Files one POST /uploads (or POST /uploads/complete) may carry.
    batch_max: Annotated[int, number(1, 1000)] = Field(100, validation_alias="BATCH_MAX")
    upload_session_ttl: Annotated[int, number(60, 30 * 86_400)] = Field(
        86_400, validation_alias="UPLOAD_SESSION_TTL"
    )
    secret_key: Annotated[SecretStr | None, secret_length()] = Field(
        None, validation_alias="SECRET_KEY"
    )
    webhook_url: Annotated[str | None, URL] = Field(None, validation_alias="UPLOAD_WEBHOOK_URL")
    webhook_secret: SecretStr | None = Field(None, validation_alias="WEBHOOK_SECRET")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings from ``env`` alone, or (None) from the process environment."""
        env = os.environ if env is None else env
        return cls.read(
            env, storage=load_storage_auth(env), security=SecuritySettings.from_env(env)
        )

    @property
    def segments_container(self) -> str:
        return self.segment_container or f"{self.container}_segments"

    @property
    def api_tokens(self) -> tuple[str, ...]:
        return self.security.api_tokens

    @model_validator(mode="after")
    def _webhook_is_signed(self) -> Self:
        if self.webhook_url and not self.webhook_secret:
            raise ConfigError("WEBHOOK_SECRET is not set (needed with UPLOAD_WEBHOOK_URL)")
        return self

    @model_validator(mode="after")
    def _pyrax_can_sign(self) -> Self:
        """pyrax signs SHA1 only, and only ASCII paths: refuse at start-up what it cannot sign."""
        if self.storage.backend == "pyrax":  # with Rackspace: ProviderAuth checked that
            if self.tempurl_digest != "sha1":
                raise ConfigError(
                    "STORAGE_BACKEND=pyrax signs with SHA1 only: set TEMPURL_DIGEST=sha1"
                )
            if not self.container.isascii():
                raise ConfigError(
                    "STORAGE_BACKEND=pyrax signs ASCII paths only: use an ASCII UPLOAD_CONTAINER"
                )
        return self
