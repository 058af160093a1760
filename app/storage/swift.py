"""OpenStack Swift through python-swiftclient: Swift v1 auth, Keystone v3, Rackspace identity.

One store class for all three: they differ only in how the connection gets its token and storage
URL, which python-swiftclient already abstracts: v1 auth, or a session object that hands it the
token and endpoint (Rackspace identity, a keystoneauth1 session for Keystone v3).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

import requests
from swiftclient import client as swift
from swiftclient.exceptions import ClientException

from ..observability.metrics import record_reauthentication, record_storage_error
from ..settings.storage import KeystoneAuth, RackspaceAuth, SwiftV1Auth
from .breaker import CircuitBreaker
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
# dropped keep-alive connection is worth one more try. A timeout is never retried (_TimedOut):
# the deadline of a call is one STORAGE_TIMEOUT, not one per attempt.
_RETRY = {"retries": 1, "starting_backoff": 0.2, "max_backoff": 1}
_TIMEOUTS = (requests.exceptions.Timeout, TimeoutError)


class _TimedOut(Exception):
    """A storage request got no answer in time; not an OSError, so swiftclient lets it through
    instead of retrying (it retries socket and requests errors)."""


def _no_retry_on_timeout(func: Callable) -> Callable:
    def call(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except _TIMEOUTS:
            raise _TimedOut from None

    return call


class _CountedConnection(swift.Connection):
    """Counts tokens obtained after the first: swiftclient re-authenticates by itself on 401."""

    _authenticated = False
    on_token: Callable[[str, str], None] | None = None

    def get_auth(self):  # type: ignore[no-untyped-def]
        result = _no_retry_on_timeout(super().get_auth)()
        if self._authenticated:
            record_reauthentication()
        self._authenticated = True
        if self.on_token is not None:
            self.on_token(*result)
        return result

    def _retry(self, reset_func, func, *args, **kwargs):  # type: ignore[no-untyped-def]
        return super()._retry(reset_func, _no_retry_on_timeout(func), *args, **kwargs)


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
    if isinstance(exc, _TimedOut):
        return "storage unreachable (no answer in time)"
    if isinstance(exc, ClientException):
        if exc.http_status is None:
            return "storage unreachable"
        return describe_failure(exc, exc.http_status, exc.http_reason)
    return describe_failure(exc, None)


class SwiftStore:
    """One swiftclient connection per thread (a connection is not safe to share, and gthread
    workers run requests side by side), one token and one circuit breaker per process."""

    def __init__(
        self,
        auth: SwiftV1Auth | RackspaceAuth | KeystoneAuth,
        timeout: float = 10.0,
        identity: TokenSource | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        """``identity`` replaces the token source built from ``auth`` (tests give it a clock)."""
        self._servicenet = isinstance(auth, RackspaceAuth) and auth.servicenet
        # The catalog interface of the service's own calls (swiftclient asks the session).
        self._own_interface = (
            auth.interface
            if isinstance(auth, KeystoneAuth)
            else ("internal" if self._servicenet else "public")
        )
        self._breaker = breaker or CircuitBreaker()
        self._local = threading.local()
        self._token: tuple[str, str] | None = None  # v1 auth: shared by the threads' connections
        if isinstance(auth, SwiftV1Auth):
            self._identity = None
            self._connect: Callable[[], _CountedConnection] = lambda: _CountedConnection(
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
        self._connect = lambda: _SessionConnection(
            session=identity,
            os_options={"endpoint_type": "internal" if self._servicenet else "public"},
            timeout=timeout,
            **_RETRY,
        )

    @property
    def _conn(self) -> _CountedConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            conn.on_token = self._remember_token
            if self._identity is None and self._token is not None:
                # Another thread's token: one authentication per process, not one per thread.
                conn.url, conn.token = self._token
                conn._authenticated = True
        return conn

    def _remember_token(self, url: str, token: str) -> None:
        self._token = (url, token)

    def _call(self, what: str, method, *args, missing_ok: bool = False, **kwargs):
        """Run a swiftclient call: None for a 404 when ``missing_ok``, else StorageError.

        Through the circuit breaker: while storage is known to be down this raises
        StorageUnavailable at once instead of waiting for the timeout.
        """
        self._breaker.enter(what)
        unreachable = False
        try:
            result = method(*args, **kwargs)
        except ClientException as exc:
            unreachable = exc.http_status is None
            if missing_ok and exc.http_status == 404:
                self._breaker.succeeded()
                return None
            reason = _describe(exc)
        except (OSError, _TimedOut) as exc:
            unreachable = True
            reason = _describe(exc)
        except ValueError as exc:
            reason = _describe(exc)
        except BaseException:
            self._breaker.abandoned()
            raise
        else:
            self._breaker.succeeded()
            return result
        if unreachable:
            self._breaker.failed()
        else:
            self._breaker.succeeded()  # storage answered: it is there
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
        """Where the service's own calls go: internalURL with RACKSPACE_SERVICENET=1, the
        catalog's OS_INTERFACE endpoint with Keystone."""
        if self._identity is not None:
            return self._identity.url(self._own_interface)
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
        except (ClientException, OSError, ValueError, _TimedOut):
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
    ) -> str | None:
        etag = self._put_once(
            "manifest PUT", container, name, json.dumps(segments), headers,
            query_string="multipart-manifest=put",
        )  # fmt: skip
        return None if etag is None else etag.strip('"')

    def put_object(self, container: str, name: str, data: bytes, headers: dict[str, str]) -> None:
        self._call("object PUT", self._conn.put_object, container, name, data, headers=headers)

    def put_object_once(
        self, container: str, name: str, data: bytes, headers: dict[str, str]
    ) -> bool:
        return self._put_once("object PUT", container, name, data, headers) is not None

    def _put_once(
        self,
        what: str,
        container: str,
        name: str,
        data: bytes | str,
        headers: dict[str, str],
        **kwargs: str,
    ) -> str | None:
        """A PUT with ``If-None-Match: *``: storage's etag, or None when the object exists
        (Swift answers 412; another call created it)."""

        def put() -> str | None:
            try:
                etag = self._conn.put_object(
                    container, name, data, headers=headers | {"If-None-Match": "*"}, **kwargs
                )
            except ClientException as exc:
                if exc.http_status == 412:
                    return None
                raise
            return etag or ""

        return self._call(what, put)

    def delete_object(self, container: str, name: str) -> bool:
        deleted = self._call(
            "object DELETE",
            lambda: self._conn.delete_object(container, name) or True,
            missing_ok=True,
        )
        return bool(deleted)
