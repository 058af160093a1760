"""Keystone v3 (password or application credential, by ID or by name) through keystoneauth1.

python-swiftclient takes a keystoneauth session (``Connection(session=...)``) and then asks it for
the token and the object-store endpoint, and invalidates it after a 401. Its own
``auth_version="3"`` path was not used: with application credentials it ignores the region and
probes the endpoint, and it needs python-keystoneclient on top. :class:`KeystoneSession` wraps the
session so that every failure becomes one :class:`StorageError` line naming what to change.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import urlsplit

from keystoneauth1 import exceptions as ks
from keystoneauth1 import session as ks_session
from keystoneauth1.access import AccessInfo
from keystoneauth1.identity import v3

from ..settings.storage import KeystoneAuth
from .interface import StorageError, reauth_margin

SERVICE = "object-store"


def v3_url(auth_url: str) -> str:
    """``OS_AUTH_URL`` may be versionless (``https://keystone:5000``); the v3 API is under /v3."""
    path = urlsplit(auth_url).path.rstrip("/")
    if re.search(r"/v3(\.\d+)?$", path):
        return auth_url.rstrip("/")
    return auth_url.rstrip("/") + "/v3"


def plugin(auth: KeystoneAuth) -> v3.Auth:
    """The keystoneauth plugin of the credentials.

    ``reauthenticate=False``: keystoneauth would otherwise fetch a new token whenever the one it
    has lives less than two more minutes, so a token issued for two minutes or less would mean a
    login per storage call. :meth:`KeystoneSession.expiring` decides instead.
    """
    url = v3_url(auth.auth_url)
    if auth.uses_application_credential:
        # An ID finds the credential alone; a name only among its user's.
        found = (
            {"application_credential_id": auth.application_credential_id}
            if auth.application_credential_id
            else {"application_credential_name": auth.application_credential_name, **_user(auth)}
        )
        return v3.ApplicationCredential(
            auth_url=url,
            reauthenticate=False,
            application_credential_secret=auth.secret,
            **found,
        )
    # An ID wins over a name; a project ID needs no domain at all.
    project_domain = {}
    if not auth.project_id:
        project_domain = (
            {"project_domain_id": auth.project_domain_id}
            if auth.project_domain_id
            else {"project_domain_name": auth.project_domain_name}
        )
    return v3.Password(
        auth_url=url,
        reauthenticate=False,
        password=auth.secret,
        project_name=auth.project_name,
        project_id=auth.project_id,
        **_user(auth),
        **project_domain,
    )


def _user(auth: KeystoneAuth) -> dict[str, str]:
    """The user: an ID (which needs no domain), else a name in its domain (an ID wins there too)."""
    if auth.user_id:
        return {"user_id": auth.user_id}
    domain = (
        {"user_domain_id": auth.user_domain_id}
        if auth.user_domain_id
        else {"user_domain_name": auth.user_domain_name}
    )
    return {"username": auth.username, **domain}


def lifetime(access: AccessInfo) -> float | None:
    """Seconds from the token's issue to its expiry, or None when Keystone did not say."""
    issued, expires = access.issued, access.expires
    if issued is None or expires is None:
        return None
    seconds = (expires - issued).total_seconds()
    return seconds if seconds > 0 else None


class KeystoneSession:
    """What swiftclient asks of a session, plus the public URL and expiry the store needs."""

    def __init__(self, auth: KeystoneAuth, timeout: float = 10.0) -> None:
        self.auth = auth
        self._plugin = plugin(auth)
        self._session = ks_session.Session(
            auth=self._plugin, timeout=timeout, verify=auth.cacert or True
        )
        self._lock = threading.Lock()

    def _translate(self, exc: Exception) -> StorageError:
        if isinstance(exc, ks.Unauthorized):
            return StorageError(
                f"Keystone refused the credentials (401): check {self.auth.credential_variables()}"
            )
        if isinstance(exc, ks.NotFound) and (exc.message or "").startswith("Could not find"):
            # Keystone found no user (or credential) of that name: not a wrong URL.
            said = exc.message.split(" (HTTP ")[0].rstrip(".")  # without keystoneauth's request ID
            return StorageError(
                f"Keystone answered 404 ({said}): check {self.auth.credential_variables()}"
            )
        if isinstance(exc, ks.EndpointNotFound):
            return StorageError(self._no_endpoint())
        if isinstance(exc, ks.HttpError):
            advice = "try again later" if (exc.http_status or 0) >= 500 else "check OS_AUTH_URL"
            return StorageError(f"Keystone answered {exc.http_status}; {advice}")
        return StorageError(f"Keystone unreachable at {self.auth.auth_url} ({type(exc).__name__})")

    def _no_endpoint(self) -> str:
        try:
            access = self._plugin.get_access(self._session)
            endpoints = access.service_catalog.get_endpoints(service_type=SERVICE)
        except ks.ClientException:
            endpoints = {}
        regions = sorted(
            {ep.get("region_id") or ep.get("region") or "" for ep in endpoints.get(SERVICE, [])}
        )
        if not regions:
            return "Keystone's catalog has no object-store (Swift) service for this project"
        return (
            f"Keystone's catalog has no public object-store endpoint in region "
            f"{self.auth.region_name or '(OS_REGION_NAME not set)'}; it has: {', '.join(regions)}"
        )

    def url(self, interface: str = "public") -> str:
        try:
            url = self._session.get_endpoint(
                service_type=SERVICE, interface=interface, region_name=self.auth.region_name
            )
        except ks.ClientException as exc:
            raise self._translate(exc) from None
        if not url:
            raise StorageError(self._no_endpoint())
        return url.rstrip("/")

    def expiring(self) -> bool:
        access = self._plugin.auth_ref
        return access is None or access.will_expire_soon(reauth_margin(lifetime(access)))

    # -- swiftclient's session interface ---------------------------------------------------------
    def get_token(self) -> str:
        with self._lock:
            try:
                if self.expiring():
                    self._plugin.invalidate()
                return self._session.get_token()
            except ks.ClientException as exc:
                raise self._translate(exc) from None

    def get_endpoint(self, service_type: str, interface: str, region_name: str | None) -> str:
        # swiftclient's own calls: OS_INTERFACE (public unless set) chooses the endpoint.
        return self.url(self.auth.interface)

    def invalidate(self) -> bool:
        with self._lock:
            return bool(self._plugin.invalidate()) or True
