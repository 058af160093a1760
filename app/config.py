"""Settings, read once from the environment and validated before the service starts.

Every problem raises :class:`ConfigError` with one line that names the variable, so start-up can
print it and stop instead of dumping a traceback.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from .security_config import SecuritySettings

DIGESTS = ("sha256", "sha512", "sha1")
MIB = 1024**2
GIB = 1024**3
MIN_TOKEN_LENGTH = 16
TTL_BOUNDS = {"TEMPURL_TTL": (1, 86_400), "DOWNLOAD_TTL": (1, 7 * 86_400)}


class ConfigError(ValueError):
    """A missing or invalid setting; the message names the environment variable."""


@dataclass(frozen=True)
class SwiftV1Auth:
    """Swift v1 auth (tempauth, swauth): the variables the ``swift`` CLI uses."""

    auth_url: str
    user: str
    key: str = field(repr=False)

    provider = "swift-v1"

    @property
    def secret(self) -> str:
        return self.key


RACKSPACE_IDENTITY_URL = "https://identity.api.rackspacecloud.com/v2.0"
STORAGE_BACKENDS = ("swiftclient", "pyrax")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


@dataclass(frozen=True)
class RackspaceAuth:
    """Rackspace Cloud Files: identity v2.0 with an API key."""

    username: str
    api_key: str = field(repr=False)
    region: str | None = None  # None: the account's RAX-AUTH:defaultRegion
    identity_url: str = RACKSPACE_IDENTITY_URL
    servicenet: bool = False  # the service's own calls use internalURL; browsers get publicURL
    backend: str = "swiftclient"

    provider = "rackspace"

    @property
    def secret(self) -> str:
        return self.api_key


@dataclass(frozen=True)
class KeystoneAuth:
    """Any OpenStack Swift behind Keystone v3: password or application credential."""

    auth_url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    project_name: str | None = None
    project_id: str | None = None
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    region_name: str | None = None
    application_credential_id: str | None = None
    application_credential_secret: str | None = field(default=None, repr=False)

    provider = "keystone-v3"

    @property
    def secret(self) -> str:
        return self.application_credential_secret or self.password or ""


StorageAuth = SwiftV1Auth | RackspaceAuth | KeystoneAuth


def _swift_v1(env: Mapping[str, str]) -> SwiftV1Auth | None:
    return _complete_set(env, ("ST_AUTH", "ST_USER", "ST_KEY"), SwiftV1Auth)


def _rackspace(env: Mapping[str, str]) -> RackspaceAuth | None:
    found = _complete_set(env, ("RACKSPACE_USERNAME", "RACKSPACE_API_KEY"), lambda *v: v)
    if found is None:
        return None
    username, api_key = found
    backend = _backend(env)
    if backend == "pyrax":
        _check_pyrax_limits(env)
    identity_url = env.get("RACKSPACE_IDENTITY_URL", "").strip() or RACKSPACE_IDENTITY_URL
    _check_url("RACKSPACE_IDENTITY_URL", identity_url)
    return RackspaceAuth(
        username=username,
        api_key=api_key,
        region=env.get("RACKSPACE_REGION", "").strip().upper() or None,
        identity_url=identity_url.rstrip("/"),
        servicenet=_flag(env, "RACKSPACE_SERVICENET"),
        backend=backend,
    )


def _check_pyrax_limits(env: Mapping[str, str]) -> None:
    """pyrax signs SHA1 only, and only ASCII paths: refuse at start-up what it cannot sign."""
    if env.get("TEMPURL_DIGEST", "").strip().lower() != "sha1":
        raise ConfigError("STORAGE_BACKEND=pyrax signs with SHA1 only: set TEMPURL_DIGEST=sha1")
    if not (env.get("UPLOAD_CONTAINER", "").strip() or "uploads").isascii():
        raise ConfigError(
            "STORAGE_BACKEND=pyrax signs ASCII paths only: use an ASCII UPLOAD_CONTAINER"
        )


_KEYSTONE_NAMES = (
    "OS_AUTH_URL",
    "OS_USERNAME",
    "OS_PASSWORD",
    "OS_APPLICATION_CREDENTIAL_ID",
    "OS_APPLICATION_CREDENTIAL_SECRET",
)


def _keystone(env: Mapping[str, str]) -> KeystoneAuth | None:
    get = {name: env.get(name, "").strip() for name in _KEYSTONE_NAMES}
    if not any(get.values()):
        return None
    auth_url = get["OS_AUTH_URL"]
    if not auth_url:
        given = ", ".join(name for name, value in get.items() if value)
        raise ConfigError(f"OS_AUTH_URL is not set (needed with {given})")
    _check_url("OS_AUTH_URL", auth_url)
    if urlsplit(auth_url).path.rstrip("/").endswith("/v2.0"):
        raise ConfigError("OS_AUTH_URL points at Keystone v2.0; give the v3 endpoint")
    project_name = env.get("OS_PROJECT_NAME", "").strip() or env.get("OS_TENANT_NAME", "").strip()
    project_id = env.get("OS_PROJECT_ID", "").strip() or env.get("OS_TENANT_ID", "").strip()
    common = {
        "auth_url": auth_url,
        "region_name": env.get("OS_REGION_NAME", "").strip() or None,
        "user_domain_name": env.get("OS_USER_DOMAIN_NAME", "").strip() or "Default",
        "project_domain_name": env.get("OS_PROJECT_DOMAIN_NAME", "").strip() or "Default",
    }
    app_id, app_secret = (
        get["OS_APPLICATION_CREDENTIAL_ID"],
        get["OS_APPLICATION_CREDENTIAL_SECRET"],
    )
    if app_id or app_secret:
        if not (app_id and app_secret):
            missing = "OS_APPLICATION_CREDENTIAL_" + ("SECRET" if app_id else "ID")
            raise ConfigError(f"{missing} is not set (application credentials need both)")
        auth = KeystoneAuth(
            application_credential_id=app_id, application_credential_secret=app_secret, **common
        )
    else:
        for name in ("OS_USERNAME", "OS_PASSWORD"):
            if not get[name]:
                raise ConfigError(f"{name} is not set (needed with OS_AUTH_URL)")
        if not (project_name or project_id):
            raise ConfigError("OS_PROJECT_NAME is not set (needed with OS_USERNAME)")
        auth = KeystoneAuth(
            username=get["OS_USERNAME"],
            password=get["OS_PASSWORD"],
            project_name=project_name or None,
            project_id=project_id or None,
            **common,
        )
    if importlib.util.find_spec("keystoneauth1") is None:
        raise ConfigError(
            "OS_AUTH_URL is set but keystoneauth1 is not installed: "
            "pip install 'upload-signer[keystone]'"
        )
    return auth


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw not in _TRUE + _FALSE:
        raise ConfigError(f"{name} must be 1 or 0, got {raw!r}")
    return raw in _TRUE


def _backend(env: Mapping[str, str]) -> str:
    backend = env.get("STORAGE_BACKEND", "").strip().lower() or "swiftclient"
    if backend not in STORAGE_BACKENDS:
        raise ConfigError(
            f"STORAGE_BACKEND must be one of {', '.join(STORAGE_BACKENDS)}, got {backend!r}"
        )
    if backend == "pyrax" and importlib.util.find_spec("pyrax") is None:
        raise ConfigError(
            "STORAGE_BACKEND=pyrax but pyrax is not installed: pip install 'upload-signer[pyrax]'"
        )
    return backend


# Provider loaders in priority order: the first complete set of variables wins. Swift v1 (ST_*)
# comes first, then Rackspace (RACKSPACE_*), then Keystone v3 (OS_*): an openrc file sourced in
# the same shell must not silently take over a service configured with ST_* or RACKSPACE_*.
STORAGE_LOADERS = (_swift_v1, _rackspace, _keystone)


def _complete_set(
    env: Mapping[str, str], names: tuple[str, ...], build: Callable[..., Any]
) -> Any | None:
    values = [env.get(name, "").strip() for name in names]
    if not any(values):
        return None
    missing = [name for name, value in zip(names, values, strict=True) if not value]
    if missing:
        given = ", ".join(name for name, value in zip(names, values, strict=True) if value)
        raise ConfigError(f"{missing[0]} is not set (needed with {given})")
    if names[0] == "ST_AUTH":
        _check_url("ST_AUTH", values[0])
    return build(*values)


def _check_url(name: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")


def load_storage_auth(env: Mapping[str, str]) -> StorageAuth:
    for loader in STORAGE_LOADERS:
        auth = loader(env)
        if auth is not None:
            if _backend(env) == "pyrax" and not isinstance(auth, RackspaceAuth):
                raise ConfigError(
                    "STORAGE_BACKEND=pyrax needs Rackspace credentials (RACKSPACE_USERNAME, "
                    f"RACKSPACE_API_KEY), but {auth.provider} credentials were found first"
                )
            return auth
    if _backend(env) == "pyrax":
        raise ConfigError("STORAGE_BACKEND=pyrax needs RACKSPACE_USERNAME and RACKSPACE_API_KEY")
    raise ConfigError(
        "no storage credentials: set ST_AUTH, ST_USER and ST_KEY; or RACKSPACE_USERNAME and "
        "RACKSPACE_API_KEY; or OS_AUTH_URL with OS_USERNAME/OS_PASSWORD or an application "
        "credential (or run `upload-signer storage` for a local Swift)"
    )


_ORIGIN = re.compile(
    r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:\d{1,5})?$"
)


def comma_list(raw: str) -> list[str]:
    """The non-empty, stripped items of a comma-separated setting."""
    return [item for item in (part.strip() for part in raw.split(",")) if item]


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


def parse_tokens(raw: str) -> tuple[str, ...]:
    """``API_TOKENS`` entries, each checked (see app/tokens.py); empty when JWT alone is used."""
    from .tokens import parse_entry  # app.tokens imports ConfigError from here

    tokens = tuple(comma_list(raw))
    for token in tokens:
        parse_entry(token)
    return tokens


def parse_number(
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


_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(text: str) -> int:
    """Bytes from ``16777216``, ``16M``, ``16MiB`` or ``1g`` (binary units)."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r} (e.g. 16777216 or 16M)")
    return int(match[1]) * _SIZE_UNITS[match[2].lower()]


def parse_size_setting(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
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


def parse_webhook_url(env: Mapping[str, str]) -> str | None:
    url = env.get("UPLOAD_WEBHOOK_URL", "").strip() or None
    if url is None:
        return None
    _check_url("UPLOAD_WEBHOOK_URL", url)
    if not env.get("WEBHOOK_SECRET", "").strip():
        raise ConfigError("WEBHOOK_SECRET is not set (needed with UPLOAD_WEBHOOK_URL)")
    return url


_CONTAINER = re.compile(r"^[^/\x00-\x1f\x7f]{1,256}$")


def _container(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    if value and (not _CONTAINER.match(value) or len(value.encode()) > 256):
        raise ConfigError(f"{name} must be 1-256 bytes with no '/' or control characters")
    return value


def _secret(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip() or None
    if value is not None and len(value) < MIN_TOKEN_LENGTH:
        raise ConfigError(f"{name} must be at least {MIN_TOKEN_LENGTH} characters")
    return value


@dataclass(frozen=True)
class Settings:
    storage: StorageAuth
    api_tokens: tuple[str, ...] = field(repr=False)
    container: str = "uploads"
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

    @property
    def segments_container(self) -> str:
        return self.segment_container or f"{self.container}_segments"

    # Issue 6: auth modes, upload policy, rate limits (app/security_config.py).
    security: SecuritySettings = field(default_factory=lambda: _default_security())

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        container = env.get("UPLOAD_CONTAINER", "").strip() or "uploads"
        if not _CONTAINER.match(container) or len(container.encode()) > 256:
            raise ConfigError(
                "UPLOAD_CONTAINER must be 1-256 bytes with no '/' or control characters"
            )
        digest = env.get("TEMPURL_DIGEST", "").strip().lower() or "sha256"
        if digest not in DIGESTS:
            raise ConfigError(f"TEMPURL_DIGEST must be one of {', '.join(DIGESTS)}, got {digest!r}")
        key = _secret(env, "TEMPURL_KEY")
        return cls(
            storage=load_storage_auth(env),
            api_tokens=parse_tokens(env.get("API_TOKENS", "")),
            container=container,
            cors_origins=parse_origins(env.get("CORS_ORIGINS", "")),
            tempurl_ttl=parse_number(env, "TEMPURL_TTL", 900, *TTL_BOUNDS["TEMPURL_TTL"]),
            download_ttl=parse_number(env, "DOWNLOAD_TTL", 3600, *TTL_BOUNDS["DOWNLOAD_TTL"]),
            tempurl_key=key,
            tempurl_digest=digest,
            storage_timeout=parse_number(env, "STORAGE_TIMEOUT", 10.0, 0.1, 300.0, float),
            ready_cache_seconds=parse_number(env, "READY_CACHE_SECONDS", 2.0, 0.0, 300.0, float),
            segment_threshold=parse_size_setting(env, "SEGMENT_THRESHOLD", 64 * MIB, 1, 5 * GIB),
            segment_size=parse_size_setting(env, "SEGMENT_SIZE", 16 * MIB, MIB, 5 * GIB),
            segment_container=_container(env, "SEGMENT_CONTAINER", ""),
            part_url_batch=parse_number(env, "PART_URL_BATCH", 20, 1, 1000),
            upload_session_ttl=parse_number(env, "UPLOAD_SESSION_TTL", 86_400, 60, 30 * 86_400),
            secret_key=_secret(env, "SECRET_KEY"),
            webhook_url=parse_webhook_url(env),
            webhook_secret=env.get("WEBHOOK_SECRET", "").strip() or None,
            security=_load_security(env),
        )


def _default_security() -> SecuritySettings:
    from .security_config import SecuritySettings

    return SecuritySettings()


def _load_security(env: Mapping[str, str]) -> SecuritySettings:
    from .security_config import load_security  # it imports ConfigError and parse_int from here

    return load_security(env)
