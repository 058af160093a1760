"""Storage provider settings, and which provider wins when several are configured.

The first complete set of variables wins: Swift v1 (``ST_*``), then Rackspace (``RACKSPACE_*``),
then Keystone v3 (``OS_*``). An openrc file sourced in the same shell must not silently take over
a service configured with ``ST_*`` or ``RACKSPACE_*``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .parsers import ConfigError, check_url, flag, text

RACKSPACE_IDENTITY_URL = "https://identity.api.rackspacecloud.com/v2.0"
STORAGE_BACKENDS = ("swiftclient", "pyrax")
DEFAULT_CONTAINER = "uploads"


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
    return build(*values)


def _swift_v1(env: Mapping[str, str]) -> SwiftV1Auth | None:
    auth = _complete_set(env, ("ST_AUTH", "ST_USER", "ST_KEY"), SwiftV1Auth)
    if auth is not None:
        check_url("ST_AUTH", auth.auth_url)
    return auth


def _rackspace(env: Mapping[str, str]) -> RackspaceAuth | None:
    found = _complete_set(env, ("RACKSPACE_USERNAME", "RACKSPACE_API_KEY"), lambda *v: v)
    if found is None:
        return None
    username, api_key = found
    backend = storage_backend(env)
    if backend == "pyrax":
        _check_pyrax_limits(env)
    identity_url = check_url(
        "RACKSPACE_IDENTITY_URL", text(env, "RACKSPACE_IDENTITY_URL", RACKSPACE_IDENTITY_URL)
    )
    return RackspaceAuth(
        username=username,
        api_key=api_key,
        region=(text(env, "RACKSPACE_REGION") or "").upper() or None,
        identity_url=identity_url.rstrip("/"),
        servicenet=flag(env, "RACKSPACE_SERVICENET"),
        backend=backend,
    )


def _check_pyrax_limits(env: Mapping[str, str]) -> None:
    """pyrax signs SHA1 only, and only ASCII paths: refuse at start-up what it cannot sign."""
    if (text(env, "TEMPURL_DIGEST") or "").lower() != "sha1":
        raise ConfigError("STORAGE_BACKEND=pyrax signs with SHA1 only: set TEMPURL_DIGEST=sha1")
    if not (text(env, "UPLOAD_CONTAINER") or DEFAULT_CONTAINER).isascii():
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
    check_url("OS_AUTH_URL", auth_url)
    if urlsplit(auth_url).path.rstrip("/").endswith("/v2.0"):
        raise ConfigError("OS_AUTH_URL points at Keystone v2.0; give the v3 endpoint")
    project_name = text(env, "OS_PROJECT_NAME") or text(env, "OS_TENANT_NAME")
    project_id = text(env, "OS_PROJECT_ID") or text(env, "OS_TENANT_ID")
    common = {
        "auth_url": auth_url,
        "region_name": text(env, "OS_REGION_NAME"),
        "user_domain_name": text(env, "OS_USER_DOMAIN_NAME", "Default"),
        "project_domain_name": text(env, "OS_PROJECT_DOMAIN_NAME", "Default"),
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
            project_name=project_name,
            project_id=project_id,
            **common,
        )
    if importlib.util.find_spec("keystoneauth1") is None:
        raise ConfigError(
            "OS_AUTH_URL is set but keystoneauth1 is not installed: "
            "pip install 'upload-signer[keystone]'"
        )
    return auth


def storage_backend(env: Mapping[str, str]) -> str:
    backend = (text(env, "STORAGE_BACKEND") or "swiftclient").lower()
    if backend not in STORAGE_BACKENDS:
        raise ConfigError(
            f"STORAGE_BACKEND must be one of {', '.join(STORAGE_BACKENDS)}, got {backend!r}"
        )
    if backend == "pyrax" and importlib.util.find_spec("pyrax") is None:
        raise ConfigError(
            "STORAGE_BACKEND=pyrax but pyrax is not installed: pip install 'upload-signer[pyrax]'"
        )
    return backend


# Provider loaders in priority order: the first complete set of variables wins.
STORAGE_LOADERS = (_swift_v1, _rackspace, _keystone)


def load_storage_auth(env: Mapping[str, str]) -> StorageAuth:
    backend = storage_backend(env)
    for loader in STORAGE_LOADERS:
        auth = loader(env)
        if auth is not None:
            if backend == "pyrax" and not isinstance(auth, RackspaceAuth):
                raise ConfigError(
                    "STORAGE_BACKEND=pyrax needs Rackspace credentials (RACKSPACE_USERNAME, "
                    f"RACKSPACE_API_KEY), but {auth.provider} credentials were found first"
                )
            return auth
    if backend == "pyrax":
        raise ConfigError("STORAGE_BACKEND=pyrax needs RACKSPACE_USERNAME and RACKSPACE_API_KEY")
    raise ConfigError(
        "no storage credentials: set ST_AUTH, ST_USER and ST_KEY; or RACKSPACE_USERNAME and "
        "RACKSPACE_API_KEY; or OS_AUTH_URL with OS_USERNAME/OS_PASSWORD or an application "
        "credential (or run `upload-signer storage` for a local Swift)"
    )
