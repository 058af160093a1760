"""Rackspace identity v2.0 (API-key auth) and the Cloud Files endpoints of its catalog.

:class:`RackspaceIdentity` has the three methods python-swiftclient asks of a keystoneauth
session (``get_token``, ``get_endpoint``, ``invalidate``), so ``Connection(session=...)``
does the Cloud Files calls and re-authenticates through it after a 401, while this class also
re-authenticates on its own shortly before the token's ``expires``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import requests

from ..settings.storage import RackspaceAuth
from .interface import REAUTH_MARGIN, StorageError

log = logging.getLogger(__name__)
CLOUD_FILES = ("cloudFiles", "object-store")  # catalog name and type
INTERFACES = {"public": "publicURL", "internal": "internalURL"}


@dataclass(frozen=True)
class Access:
    token: str
    expires: float  # Unix time
    default_region: str | None
    endpoints: dict[str, dict[str, str]]  # region -> {"publicURL": ..., "internalURL": ...}
    has_cloud_files: bool


def parse_access(body: object) -> Access:
    """The token and Cloud Files endpoints of a ``POST /tokens`` answer."""
    try:
        access = body["access"]  # type: ignore[index]
        token = access["token"]
        expires = datetime.fromisoformat(token["expires"].replace("Z", "+00:00")).timestamp()
        services = access.get("serviceCatalog") or []
        files = [s for s in services if (s.get("name"), s.get("type")) == CLOUD_FILES]
        # Private clouds may name it otherwise; the type is what Keystone defines.
        files = files or [s for s in services if s.get("type") == CLOUD_FILES[1]]
        endpoints = {
            str(ep.get("region", "")).upper(): {k: v for k, v in ep.items() if k.endswith("URL")}
            for service in files[:1]
            for ep in service.get("endpoints", [])
        }
        default = (access.get("user") or {}).get("RAX-AUTH:defaultRegion")
        return Access(token["id"], expires, default or None, endpoints, bool(files))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise StorageError("Rackspace identity sent an answer without a token or catalog") from None


class RackspaceIdentity:
    def __init__(
        self,
        auth: RackspaceAuth,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        http: requests.Session | None = None,
    ) -> None:
        self.auth = auth
        self.timeout = timeout
        self._clock = clock
        self._http = http or requests.Session()
        self._access: Access | None = None
        self._lock = threading.Lock()

    # -- identity -----------------------------------------------------------------------------
    def _authenticate(self) -> Access:
        url = f"{self.auth.identity_url}/tokens"
        credentials = {"username": self.auth.username, "apiKey": self.auth.secret}
        try:
            response = self._http.post(
                url,
                json={"auth": {"RAX-KSKEY:apiKeyCredentials": credentials}},
                headers={"Accept": "application/json"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise StorageError(
                f"Rackspace identity unreachable at {self.auth.identity_url} ({type(exc).__name__})"
            ) from None
        if response.status_code in (401, 403):
            raise StorageError(
                f"Rackspace identity refused the credentials ({response.status_code}): "
                "check RACKSPACE_USERNAME and RACKSPACE_API_KEY"
            )
        if not response.ok:
            reason = f"{response.status_code} {response.reason or ''}".strip()
            advice = (
                "try again later" if response.status_code >= 500 else "check RACKSPACE_IDENTITY_URL"
            )
            raise StorageError(f"Rackspace identity answered {reason}; {advice}")
        try:
            body = response.json()
        except ValueError:
            body = None
        access = parse_access(body)
        log.info("authenticated to Rackspace identity as %s", self.auth.username)
        return access

    def access(self, force: bool = False) -> Access:
        """The current token and catalog; a new one if forced or about to expire."""
        with self._lock:
            current = self._access
            if force or current is None or self._clock() >= current.expires - REAUTH_MARGIN:
                self._access = current = self._authenticate()
            return current

    def expiring(self) -> bool:
        current = self._access
        return current is None or self._clock() >= current.expires - REAUTH_MARGIN

    def region(self) -> str:
        access = self.access()
        region = self.auth.region or access.default_region
        if not access.has_cloud_files:
            raise StorageError("the Rackspace catalog has no Cloud Files (object-store) service")
        available = ", ".join(sorted(access.endpoints)) or "none"
        if not region:
            raise StorageError(
                f"RACKSPACE_REGION is not set and the account has no default region; "
                f"Cloud Files is in: {available}"
            )
        if region not in access.endpoints:
            raise StorageError(
                f"Cloud Files has no endpoint in region {region}; the catalog has: {available}"
            )
        return region

    def url(self, interface: str = "public") -> str:
        """The Cloud Files endpoint of the region: ``public`` (browsers) or ``internal``."""
        region = self.region()
        key = INTERFACES[interface]
        url = self.access().endpoints[region].get(key)
        if not url:
            raise StorageError(f"Cloud Files in {region} has no {key} (RACKSPACE_SERVICENET=1?)")
        return url.rstrip("/")

    # -- what swiftclient asks of a keystoneauth session ---------------------------------------
    def get_token(self) -> str:
        return self.access().token

    def get_endpoint(self, service_type: str, interface: str, region_name: str | None) -> str:
        return self.url(interface)

    def invalidate(self) -> bool:
        """Storage answered 401: the token was revoked or expired early; fetch a new one."""
        with self._lock:
            self._access = None
        return True
