"""Storage provider settings, and which provider wins when several are configured.

The first provider with any of its variables set wins: Swift v1 (``ST_*``), then Rackspace
(``RACKSPACE_*``), then Keystone v3 (``OS_*``), and all it needs must then be set. An openrc file
sourced in the same shell must not silently take over a service configured with ``ST_*`` or
``RACKSPACE_*``.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, AliasChoices, Field, SecretStr, model_validator

from .clouds import cloud_variables
from .parsers import FLAG, URL, ConfigError, one_of
from .sources import EnvSettings, given

RACKSPACE_IDENTITY_URL = "https://identity.api.rackspacecloud.com/v2.0"
STORAGE_BACKENDS = ("swiftclient", "pyrax")
DEFAULT_CONTAINER = "uploads"
KEYSTONE_INTERFACES = ("public", "internal", "admin")
# OS_AUTH_TYPE's values (lower case, without - and _) and the login each one means.
KEYSTONE_AUTH_TYPES = {
    "password": "password",
    "v3password": "password",
    "applicationcredential": "applicationcredential",
    "v3applicationcredential": "applicationcredential",
}


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


def _identity_api_version(value: str) -> str:
    """``OS_IDENTITY_API_VERSION``: 3 (or 3.x); openrc files of old clouds say 2.0."""
    if re.fullmatch(r"3(\.\d+)?", value):
        return value
    if re.fullmatch(r"2(\.\d+)?", value):
        raise ValueError(
            f"is {value}, but only Keystone v3 is supported: set it to 3 (or unset it) and "
            "OS_AUTH_URL to the v3 endpoint"
        )
    raise ValueError(f"must be 3, got {value!r}")


def _auth_type(value: str) -> str:
    """``OS_AUTH_TYPE``, as keystoneauth1 names its plugins: password or application credential."""
    name = re.sub(r"[-_]", "", value.lower())
    if name not in KEYSTONE_AUTH_TYPES:
        raise ValueError(
            f"is {value!r}, but only a password (password, v3password) or an application "
            "credential (v3applicationcredential, applicationcredential) can log in"
        )
    return KEYSTONE_AUTH_TYPES[name]


class KeystoneAuth(ProviderAuth):
    """Any OpenStack Swift behind Keystone v3: password or application credential.

    ``OS_CLOUD`` names a cloud of a clouds.yaml whose settings fill the variables that are not
    set (:func:`cloud_variables`).
    """

    provider = "keystone-v3"
    variables = (
        "OS_AUTH_URL",
        "OS_CLOUD",
        "OS_USERNAME",
        "OS_USER_ID",
        "OS_PASSWORD",
        "OS_APPLICATION_CREDENTIAL_ID",
        "OS_APPLICATION_CREDENTIAL_NAME",
        "OS_APPLICATION_CREDENTIAL_SECRET",
    )
    needed = ("OS_AUTH_URL",)

    auth_url: Annotated[str, URL, AfterValidator(_keystone_v3)] = Field(
        validation_alias="OS_AUTH_URL"
    )
    # Which cloud of clouds.yaml filled the unset variables (named in error messages).
    cloud: str | None = Field(None, validation_alias="OS_CLOUD")
    identity_api_version: Annotated[str | None, AfterValidator(_identity_api_version)] = Field(
        None, validation_alias="OS_IDENTITY_API_VERSION"
    )
    # None: an application credential when one is given, else a password.
    auth_type: Annotated[str | None, AfterValidator(_auth_type)] = Field(
        None, validation_alias="OS_AUTH_TYPE"
    )
    username: str | None = Field(None, validation_alias="OS_USERNAME")
    # A user ID wins over a name, and needs no user domain.
    user_id: str | None = Field(None, validation_alias="OS_USER_ID")
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
    # A name finds the credential among the user's own: it needs the user (ID, or name + domain).
    application_credential_name: str | None = Field(
        None, validation_alias="OS_APPLICATION_CREDENTIAL_NAME"
    )
    application_credential_secret: SecretStr | None = Field(
        None, validation_alias="OS_APPLICATION_CREDENTIAL_SECRET"
    )

    @classmethod
    def read(cls, env: Mapping[str, str], **parts: Any) -> Self:
        present = given(env)
        if "OS_CLOUD" in present:
            env = cloud_variables(present)
        return super().read(env, **parts)

    @property
    def uses_application_credential(self) -> bool:
        if self.auth_type is not None:
            return self.auth_type == "applicationcredential"
        return bool(
            self.application_credential_id
            or self.application_credential_name
            or self.application_credential_secret
        )

    @property
    def secret(self) -> str:
        chosen = (
            self.application_credential_secret
            if self.uses_application_credential
            else self.password
        )
        return chosen.get_secret_value() if chosen else ""

    def credential_variables(self) -> str:
        """The variables a refused login should make one check."""
        if self.uses_application_credential:
            if self.application_credential_id:
                names = "OS_APPLICATION_CREDENTIAL_ID and OS_APPLICATION_CREDENTIAL_SECRET"
            else:
                user = "OS_USER_ID" if self.user_id else "OS_USERNAME, OS_USER_DOMAIN_*"
                names = f"OS_APPLICATION_CREDENTIAL_NAME, OS_APPLICATION_CREDENTIAL_SECRET, {user}"
        else:
            user = "OS_USER_ID" if self.user_id else "OS_USERNAME"
            names = f"{user}, OS_PASSWORD, OS_PROJECT_NAME and the domains"
        if self.cloud:
            names += f" (or the auth of the clouds.yaml cloud {self.cloud!r} that OS_CLOUD names)"
        return names

    @model_validator(mode="after")
    def _one_whole_credential(self) -> Self:
        if self.uses_application_credential:
            self._application_credential_complete()
        else:
            self._password_complete()
        if importlib.util.find_spec("keystoneauth1") is None:
            raise ConfigError(
                "OS_AUTH_URL is set but keystoneauth1 is not installed: "
                "pip install 'upload-signer[keystone]'"
            )
        return self

    def _application_credential_complete(self) -> None:
        chosen = f"OS_AUTH_TYPE={self.auth_type}" if self.auth_type else "an application credential"
        if not (self.application_credential_id or self.application_credential_name):
            raise ConfigError(
                "OS_APPLICATION_CREDENTIAL_ID is not set (or OS_APPLICATION_CREDENTIAL_NAME with "
                f"OS_USER_ID or OS_USERNAME; needed with {chosen})"
            )
        if not self.application_credential_secret:
            raise ConfigError(f"OS_APPLICATION_CREDENTIAL_SECRET is not set (needed with {chosen})")
        if not self.application_credential_id and not (self.user_id or self.username):
            raise ConfigError(
                "OS_APPLICATION_CREDENTIAL_NAME needs its user: set OS_USER_ID, or OS_USERNAME "
                "(with OS_USER_DOMAIN_ID or OS_USER_DOMAIN_NAME outside Default)"
            )

    def _password_complete(self) -> None:
        chosen = f"OS_AUTH_TYPE={self.auth_type}" if self.auth_type else "OS_AUTH_URL"
        if not (self.username or self.user_id):
            raise ConfigError(f"OS_USERNAME is not set (or OS_USER_ID; needed with {chosen})")
        if self.password is None:
            raise ConfigError(f"OS_PASSWORD is not set (needed with {chosen})")
        if not (self.project_name or self.project_id):
            user = "OS_USER_ID" if self.user_id and not self.username else "OS_USERNAME"
            raise ConfigError(f"OS_PROJECT_NAME is not set (needed with {user})")


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
        "credential, or OS_CLOUD (or run `upload-signer storage` for a local Swift)"
    )
