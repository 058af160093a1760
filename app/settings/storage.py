"""Storage provider settings, and which provider wins when several are configured.

The first provider with any of its variables set wins: Swift v1 (``ST_*``), then Rackspace
(``RACKSPACE_*``), then Keystone v3 (``OS_*``), and all it needs must then be set. An openrc file
sourced in the same shell must not silently take over a service configured with ``ST_*`` or
``RACKSPACE_*``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, AliasChoices, Field, SecretStr, model_validator

from .parsers import FLAG, URL, ConfigError, one_of
from .sources import EnvSettings, given

RACKSPACE_IDENTITY_URL = "https://identity.api.rackspacecloud.com/v2.0"
STORAGE_BACKENDS = ("swiftclient", "pyrax")
DEFAULT_CONTAINER = "uploads"
KEYSTONE_INTERFACES = ("public", "internal", "admin")


def _installed(backend: str) -> str:
    if backend == "pyrax" and importlib.util.find_spec("pyrax") is None:
        raise ConfigError(
            "STORAGE_BACKEND=pyrax but pyrax is not installed: pip install 'upload-signer[pyrax]'"
        )
    return backend


def _keystone_v3(url: str) -> str:
    if urlsplit(url).path.rstrip("/").endswith("/v2.0"):
        raise ValueError("points at Keystone v2.0; give the v3 endpoint")
    return url


def _interface(value: str) -> str:
    """``OS_INTERFACE``: ``public``, ``internal`` or ``admin`` (``publicURL`` style too)."""
    name = value.strip().lower().removesuffix("url")
    if name not in KEYSTONE_INTERFACES:
        raise ValueError(f"must be one of {', '.join(KEYSTONE_INTERFACES)}")
    return name


class StorageBackend(EnvSettings):
    """The library that talks to storage."""

    backend: Annotated[str, one_of(*STORAGE_BACKENDS), AfterValidator(_installed)] = Field(
        "swiftclient", validation_alias="STORAGE_BACKEND"
    )


class ProviderAuth(StorageBackend):
    """What every provider shares: its variables, and the backend that talks to it."""

    provider: ClassVar[str]
    # Any of these set selects the provider; then each of ``needed`` must be set too.
    variables: ClassVar[tuple[str, ...]]
    needed: ClassVar[tuple[str, ...]]

    @classmethod
    def chosen(cls, present: Mapping[str, str]) -> bool:
        """Whether any of its variables is among ``present`` (as :func:`given` returns them)."""
        return any(name in present for name in cls.variables)

    @model_validator(mode="before")
    @classmethod
    def _complete_set(cls, data: dict[str, Any]) -> dict[str, Any]:
        missing = [name for name in cls.needed if name not in data]
        if missing:
            present = ", ".join(name for name in cls.variables if name in data)
            raise ConfigError(f"{missing[0]} is not set (needed with {present})")
        return data

    @model_validator(mode="after")
    def _backend_speaks_provider(self) -> Self:
        if self.backend == "pyrax" and self.provider != RackspaceAuth.provider:
            raise ConfigError(
                "STORAGE_BACKEND=pyrax needs Rackspace credentials (RACKSPACE_USERNAME, "
                f"RACKSPACE_API_KEY), but {self.provider} credentials were found first"
            )
        return self


class SwiftV1Auth(ProviderAuth):
    """Swift v1 auth (tempauth, swauth): the variables the ``swift`` CLI uses.

    ``secret`` (each provider has one) is the credential a derived TempURL key is made from.
    """

    provider = "swift-v1"
    variables = needed = ("ST_AUTH", "ST_USER", "ST_KEY")

    auth_url: Annotated[str, URL] = Field(validation_alias="ST_AUTH")
    user: str = Field(validation_alias="ST_USER")
    key: SecretStr = Field(validation_alias="ST_KEY")

    @property
    def secret(self) -> str:
        return self.key.get_secret_value()


class RackspaceAuth(ProviderAuth):
    """Rackspace Cloud Files: identity v2.0 with an API key."""

    provider = "rackspace"
    variables = needed = ("RACKSPACE_USERNAME", "RACKSPACE_API_KEY")

    username: str = Field(validation_alias="RACKSPACE_USERNAME")
    api_key: SecretStr = Field(validation_alias="RACKSPACE_API_KEY")
    # None: the account's RAX-AUTH:defaultRegion.
    region: Annotated[str | None, AfterValidator(str.upper)] = Field(
        None, validation_alias="RACKSPACE_REGION"
    )
    identity_url: Annotated[str, URL, AfterValidator(lambda url: url.rstrip("/"))] = Field(
        RACKSPACE_IDENTITY_URL, validation_alias="RACKSPACE_IDENTITY_URL"
    )
    # The service's own calls use internalURL; browsers always get publicURL.
    servicenet: Annotated[bool, FLAG] = Field(False, validation_alias="RACKSPACE_SERVICENET")

    @property
    def secret(self) -> str:
        return self.api_key.get_secret_value()


class KeystoneAuth(ProviderAuth):
    """Any OpenStack Swift behind Keystone v3: password or application credential."""

    provider = "keystone-v3"
    variables = (
        "OS_AUTH_URL",
        "OS_USERNAME",
        "OS_PASSWORD",
        "OS_APPLICATION_CREDENTIAL_ID",
        "OS_APPLICATION_CREDENTIAL_SECRET",
    )
    needed = ("OS_AUTH_URL",)

    auth_url: Annotated[str, URL, AfterValidator(_keystone_v3)] = Field(
        validation_alias="OS_AUTH_URL"
    )
    username: str | None = Field(None, validation_alias="OS_USERNAME")
    password: SecretStr | None = Field(None, validation_alias="OS_PASSWORD")
    # The older TENANT names still come from many openrc files.
    project_name: str | None = Field(
        None, validation_alias=AliasChoices("OS_PROJECT_NAME", "OS_TENANT_NAME")
    )
    project_id: str | None = Field(
        None, validation_alias=AliasChoices("OS_PROJECT_ID", "OS_TENANT_ID")
    )
    # A domain ID wins over a domain name (openrc files of non-default domains often carry IDs).
    user_domain_name: str = Field("Default", validation_alias="OS_USER_DOMAIN_NAME")
    user_domain_id: str | None = Field(None, validation_alias="OS_USER_DOMAIN_ID")
    project_domain_name: str = Field("Default", validation_alias="OS_PROJECT_DOMAIN_NAME")
    project_domain_id: str | None = Field(None, validation_alias="OS_PROJECT_DOMAIN_ID")
    region_name: str | None = Field(None, validation_alias="OS_REGION_NAME")
    # The catalog interface of the service's own calls; browsers always get the public one.
    interface: Annotated[str, AfterValidator(_interface)] = Field(
        "public", validation_alias="OS_INTERFACE"
    )
    # A CA bundle that verifies Keystone's TLS certificate (a private CA).
    cacert: str | None = Field(None, validation_alias="OS_CACERT")
    application_credential_id: str | None = Field(
        None, validation_alias="OS_APPLICATION_CREDENTIAL_ID"
    )
    application_credential_secret: SecretStr | None = Field(
        None, validation_alias="OS_APPLICATION_CREDENTIAL_SECRET"
    )

    @property
    def secret(self) -> str:
        chosen = self.application_credential_secret or self.password
        return chosen.get_secret_value() if chosen else ""

    @model_validator(mode="after")
    def _one_whole_credential(self) -> Self:
        app_id, app_secret = self.application_credential_id, self.application_credential_secret
        if app_id or app_secret:
            if not (app_id and app_secret):
                missing = "OS_APPLICATION_CREDENTIAL_" + ("SECRET" if app_id else "ID")
                raise ConfigError(f"{missing} is not set (application credentials need both)")
        else:
            for name, value in (("OS_USERNAME", self.username), ("OS_PASSWORD", self.password)):
                if value is None:
                    raise ConfigError(f"{name} is not set (needed with OS_AUTH_URL)")
            if not (self.project_name or self.project_id):
                raise ConfigError("OS_PROJECT_NAME is not set (needed with OS_USERNAME)")
        if importlib.util.find_spec("keystoneauth1") is None:
            raise ConfigError(
                "OS_AUTH_URL is set but keystoneauth1 is not installed: "
                "pip install 'upload-signer[keystone]'"
            )
        return self


StorageAuth = SwiftV1Auth | RackspaceAuth | KeystoneAuth
# In priority order: the first provider with any of its variables set wins.
PROVIDERS: tuple[type[StorageAuth], ...] = (SwiftV1Auth, RackspaceAuth, KeystoneAuth)


def load_storage_auth(env: Mapping[str, str]) -> StorageAuth:
    present = given(env)
    for provider in PROVIDERS:
        if provider.chosen(present):
            return provider.read(env)
    if StorageBackend.read(env).backend == "pyrax":
        raise ConfigError("STORAGE_BACKEND=pyrax needs RACKSPACE_USERNAME and RACKSPACE_API_KEY")
    raise ConfigError(
        "no storage credentials: set ST_AUTH, ST_USER and ST_KEY; or RACKSPACE_USERNAME and "
        "RACKSPACE_API_KEY; or OS_AUTH_URL with OS_USERNAME/OS_PASSWORD or an application "
        "credential (or run `upload-signer storage` for a local Swift)"
    )
