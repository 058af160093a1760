"""The store interface: what the rest of the service may ask of object storage.

The Flask side sees :class:`ObjectStore` and nothing else, so another provider (Rackspace
identity, Keystone v3, pyrax) is one more class that fulfils it.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Protocol

ACCOUNT_KEY_HEADERS = ("x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2")
# Seconds before a token's expiry at which every token source fetches a new one: a call started
# just before expiry must not reach storage with a token that has just died.
REAUTH_MARGIN = 300.0
# A token that lives shorter than the margin would be renewed on every call, so the margin is at
# most this share of the token's life (issued to expires).
REAUTH_SHARE = 0.1


def reauth_margin(lifetime: float | None) -> float:
    """The margin for a token that lives ``lifetime`` seconds (None: not known)."""
    if lifetime is None or lifetime <= 0:
        return REAUTH_MARGIN
    return min(REAUTH_MARGIN, REAUTH_SHARE * lifetime)


def tempurl_key_headers(key: str, key2: str | None) -> dict[str, str]:
    """Account metadata setting the TempURL key (and the second, still-verifying one)."""
    headers = {"X-Account-Meta-Temp-URL-Key": key}
    if key2:
        headers["X-Account-Meta-Temp-URL-Key-2"] = key2
    return headers


class StorageError(RuntimeError):
    """A storage call failed. The message is safe to show: no token, key or signature in it."""


def describe_failure(exc: Exception, status: int | None, reason: str | None = None) -> str:
    """One line for a failed storage call that never carries the token or a signed URL."""
    if status is not None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = reason or ""
        return f"storage answered {status} {phrase}".strip()
    return f"storage unreachable ({type(exc).__name__})"


def account_tempurl_keys(headers: dict[str, str]) -> tuple[str | None, str | None]:
    """``Temp-URL-Key`` and ``Temp-URL-Key-2`` from lower-cased account headers."""
    first, second = (headers.get(name) or None for name in ACCOUNT_KEY_HEADERS)
    return first, second


class ObjectStore(Protocol):
    def authenticate(self) -> None:
        """Get a token (again); raise StorageError when storage refuses or is unreachable."""

    @property
    def public_url(self) -> str:
        """Storage URL browsers reach, e.g. ``https://storage.example/v1/AUTH_x``; signs URLs."""

    @property
    def own_url(self) -> str:
        """Storage URL of the service's own calls (internal with RACKSPACE_SERVICENET=1)."""

    @property
    def region(self) -> str | None:
        """The region in use, where the provider has regions."""

    def container_metadata(self, container: str) -> dict[str, str] | None:
        """Lower-cased headers of the container, or None if it does not exist."""

    def create_container(self, container: str, headers: dict[str, str]) -> None: ...

    def update_container(self, container: str, headers: dict[str, str]) -> None: ...

    def tempurl_keys(self) -> tuple[str | None, str | None]:
        """The account's ``Temp-URL-Key`` and ``Temp-URL-Key-2``."""

    def set_tempurl_keys(self, key: str, key2: str | None) -> None: ...

    def cluster_info(self) -> dict | None:
        """The cluster's ``GET /info`` (constraints, middleware), or None if not offered."""

    def list_objects(self, container: str, prefix: str = "") -> list[dict]:
        """Objects under ``prefix``: dicts with ``name``, ``bytes``, ``hash``, ``last_modified``."""

    def head_object(self, container: str, name: str) -> dict[str, str] | None:
        """Lower-cased headers of the object, or None if it does not exist."""

    def put_manifest(
        self, container: str, name: str, segments: list[dict], headers: dict[str, str]
    ) -> str | None:
        """Create a Static Large Object from ``segments`` unless an object of that name exists
        (``If-None-Match: *``): its etag, or None when one was already there."""

    def put_object(self, container: str, name: str, data: bytes, headers: dict[str, str]) -> None:
        """Store a small object with the service's own token."""

    def put_object_once(
        self, container: str, name: str, data: bytes, headers: dict[str, str]
    ) -> bool:
        """Store a small object only if none is there (``If-None-Match: *``, which Swift answers
        412 when it exists): True for the call that created it, False when it already existed."""

    def delete_object(self, container: str, name: str) -> bool:
        """Delete; False if it was not there."""


class TokenSource(Protocol):
    """Token and endpoints from an identity service (Rackspace identity, Keystone v3).

    ``get_token``, ``get_endpoint`` and ``invalidate`` are what python-swiftclient asks of a
    keystoneauth session (``Connection(session=...)``); the store uses the other two.
    """

    def get_token(self) -> str: ...

    def get_endpoint(self, service_type: str, interface: str, region_name: str | None) -> str: ...

    def invalidate(self) -> bool: ...

    def url(self, interface: str = "public") -> str:
        """The object-store endpoint: ``public`` (browsers, signing) or ``internal``."""

    def expiring(self) -> bool:
        """True when the token is missing or expires within the re-authentication margin."""
