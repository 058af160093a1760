"""OpenStack Swift through python-swiftclient: Swift v1 auth, Keystone v3, Rackspace identity.

One store class for all three: they differ only in how the connection gets its token and storage
URL, which python-swiftclient already abstracts: v1 auth, or a session object that hands it the
token and endpoint (Rackspace identity, a keystoneauth1 session for Keystone v3).
"""

from __future__ import annotations

import json
import logging

from swiftclient import client as swift
from swiftclient.exceptions import ClientException

from ..observability.metrics import record_reauthentication, record_storage_error
from ..settings.storage import KeystoneAuth, RackspaceAuth, SwiftV1Auth
from .interface import (
    StorageError,
    TokenSource,
    account_tempurl_keys,
    describe_failure,
    tempurl_key_headers,
)
from .rackspace_identity import RackspaceIdentity

log = logging.getLogger(__name__)

# One retry: swiftclient re-authenticates by itself when a call gets 401 (expired token), and a
# dead store must not hold a request for long.
_RETRY = {"retries": 1, "starting_backoff": 0.2, "max_backoff": 1}


class _CountedConnection(swift.Connection):
    """Counts tokens obtained after the first: swiftclient re-authenticates by itself on 401."""

    _authenticated = False

    def get_auth(self):  # type: ignore[no-untyped-def]
        result = super().get_auth()
        if self._authenticated:
            record_reauthentication()
        self._authenticated = True
        return result


class _SessionConnection(_CountedConnection):
    """A connection whose token source can say "expiring": it then fetches a new token first.

    swiftclient asks for a token only when it has none (or after a 401), so without this a token
    would be used until storage refuses it. Every swiftclient call goes through ``_retry``.
    """

    def _retry(self, *args, **kwargs):
        if self.session is not None and self.session.expiring():
            self.url = self.token = None
        return super()._retry(*args, **kwargs)


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientException):
        if exc.http_status is None:
            return "storage unreachable"
        return describe_failure(exc, exc.http_status, exc.http_reason)
    return describe_failure(exc, None)


class SwiftStore:
    def __init__(
        self,
        auth: SwiftV1Auth | RackspaceAuth | KeystoneAuth,
        timeout: float = 10.0,
        identity: TokenSource | None = None,
    ) -> None:
        """``identity`` replaces the token source built from ``auth`` (tests give it a clock)."""
        self._servicenet = isinstance(auth, RackspaceAuth) and auth.servicenet
        if isinstance(auth, SwiftV1Auth):
            self._identity = None
            self._conn = _CountedConnection(
                authurl=auth.auth_url,
                user=auth.user,
                key=auth.secret,
                auth_version="1",
                timeout=timeout,
                **_RETRY,
            )
            return
        # With a token source (Rackspace identity, Keystone) the token and both endpoints come
        # from its catalog; the browser-facing public URL signs even when the service itself
        # talks to the internal one.
        if identity is None:
            if isinstance(auth, RackspaceAuth):
                identity = RackspaceIdentity(auth, timeout=timeout)
            else:
                from .keystone import KeystoneSession  # keystoneauth1: the `keystone` extra

                identity = KeystoneSession(auth, timeout=timeout)
        self._identity = identity
        self._conn = _SessionConnection(
            session=identity,
            os_options={"endpoint_type": "internal" if self._servicenet else "public"},
            timeout=timeout,
            **_RETRY,
        )

    def _call(self, what: str, method, *args, missing_ok: bool = False, **kwargs):
        """Run a swiftclient call: None for a 404 when ``missing_ok``, else StorageError."""
        try:
            return method(*args, **kwargs)
        except ClientException as exc:
            if missing_ok and exc.http_status == 404:
                return None
            reason = _describe(exc)
        except (OSError, ValueError) as exc:
            reason = _describe(exc)
        record_storage_error(what)
        log.warning("storage %s failed: %s", what, reason)
        raise StorageError(f"{what}: {reason}") from None

    def authenticate(self) -> None:
        if self._identity is not None:
            self._identity.invalidate()
        self._conn.url = self._conn.token = None
        self._call("authenticate", self._conn.get_auth)

    @property
    def public_url(self) -> str:
        if self._identity is not None:
            return self._identity.url("public")
        if not self._conn.url:
            self.authenticate()
        return self._conn.url

    @property
    def own_url(self) -> str:
        """Where the service's own calls go (internalURL with RACKSPACE_SERVICENET=1)."""
        if self._identity is not None:
            return self._identity.url("internal" if self._servicenet else "public")
        return self.public_url

    @property
    def region(self) -> str | None:
        if isinstance(self._identity, RackspaceIdentity):
            return self._identity.region()
        return getattr(getattr(self._identity, "auth", None), "region_name", None)

    def container_metadata(self, container: str) -> dict[str, str] | None:
        return self._call("container HEAD", self._conn.head_container, container, missing_ok=True)

    def create_container(self, container: str, headers: dict[str, str]) -> None:
        self._call("container PUT", self._conn.put_container, container, headers=headers)

    def update_container(self, container: str, headers: dict[str, str]) -> None:
        self._call("container POST", self._conn.post_container, container, headers)

    def tempurl_keys(self) -> tuple[str | None, str | None]:
        return account_tempurl_keys(self._call("account HEAD", self._conn.head_account))

    def set_tempurl_keys(self, key: str, key2: str | None) -> None:
        headers = tempurl_key_headers(key, key2)
        self._call("account POST", self._conn.post_account, headers)

    def cluster_info(self) -> dict | None:
        try:
            return self._conn.get_capabilities()
        except (ClientException, OSError, ValueError):
            return None  # /info is optional: some clusters turn it off

    def list_objects(self, container: str, prefix: str = "") -> list[dict]:
        found = self._call(
            "container GET",
            self._conn.get_container,
            container,
            prefix=prefix,
            full_listing=True,
            missing_ok=True,
        )
        return [] if found is None else found[1]

    def head_object(self, container: str, name: str) -> dict[str, str] | None:
        return self._call("object HEAD", self._conn.head_object, container, name, missing_ok=True)

    def put_manifest(
        self, container: str, name: str, segments: list[dict], headers: dict[str, str]
    ) -> str:
        etag = self._call(
            "manifest PUT",
            self._conn.put_object,
            container,
            name,
            json.dumps(segments),
            headers=headers,
            query_string="multipart-manifest=put",
        )
        return (etag or "").strip('"')

    def put_object(self, container: str, name: str, data: bytes, headers: dict[str, str]) -> None:
        self._call("object PUT", self._conn.put_object, container, name, data, headers=headers)

    def put_object_once(
        self, container: str, name: str, data: bytes, headers: dict[str, str]
    ) -> bool:
        def put() -> bool:
            try:
                self._conn.put_object(
                    container, name, data, headers=headers | {"If-None-Match": "*"}
                )
            except ClientException as exc:
                if exc.http_status == 412:  # already there: another call created it
                    return False
                raise
            return True

        return bool(self._call("object PUT", put))

    def delete_object(self, container: str, name: str) -> bool:
        deleted = self._call(
            "object DELETE",
            lambda: self._conn.delete_object(container, name) or True,
            missing_ok=True,
        )
        return bool(deleted)
