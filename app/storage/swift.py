"""OpenStack Swift through python-swiftclient (Swift v1 auth: tempauth, swauth)."""

from __future__ import annotations

import logging

from swiftclient import client as swift
from swiftclient.exceptions import ClientException

from ..config import SwiftV1Auth
from ..metrics import record_reauthentication, record_storage_error
from . import StorageError

log = logging.getLogger(__name__)
ACCOUNT_KEY_HEADERS = ("x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2")


def _describe(exc: Exception) -> str:
    """A one-line reason that never carries the token or a signed URL."""
    if isinstance(exc, ClientException):
        if exc.http_status is not None:
            return f"storage answered {exc.http_status} {exc.http_reason or ''}".strip()
        return "storage unreachable"
    return f"storage unreachable ({type(exc).__name__})"


class _CountedConnection(swift.Connection):
    """Counts tokens obtained after the first: swiftclient re-authenticates by itself on 401."""

    _authenticated = False

    def get_auth(self):  # type: ignore[no-untyped-def]
        result = super().get_auth()
        if self._authenticated:
            record_reauthentication()
        self._authenticated = True
        return result


class SwiftStore:
    def __init__(self, auth: SwiftV1Auth, timeout: float = 10.0) -> None:
        # swiftclient re-authenticates by itself when a call gets 401 (expired token); one
        # retry is enough for that, and keeps a dead store from holding a request for long.
        self._conn = _CountedConnection(
            authurl=auth.auth_url,
            user=auth.user,
            key=auth.key,
            auth_version="1",
            retries=1,
            starting_backoff=0.2,
            max_backoff=1,
            timeout=timeout,
        )

    def _call(self, what: str, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except (ClientException, OSError, ValueError) as exc:
            reason = _describe(exc)
            record_storage_error(what)
            log.warning("storage %s failed: %s", what, reason)
            raise StorageError(f"{what}: {reason}") from None

    def authenticate(self) -> None:
        self._conn.url = self._conn.token = None
        self._call("authenticate", self._conn.get_auth)

    @property
    def public_url(self) -> str:
        if not self._conn.url:
            self.authenticate()
        return self._conn.url

    def container_metadata(self, container: str) -> dict[str, str] | None:
        try:
            return self._conn.head_container(container)
        except ClientException as exc:
            if exc.http_status == 404:
                return None
            record_storage_error("container HEAD")
            raise StorageError(f"container HEAD: {_describe(exc)}") from None
        except (OSError, ValueError) as exc:
            record_storage_error("container HEAD")
            raise StorageError(f"container HEAD: {_describe(exc)}") from None

    def create_container(self, container: str, headers: dict[str, str]) -> None:
        self._call("container PUT", self._conn.put_container, container, headers=headers)

    def update_container(self, container: str, headers: dict[str, str]) -> None:
        self._call("container POST", self._conn.post_container, container, headers)

    def tempurl_keys(self) -> tuple[str | None, str | None]:
        headers = self._call("account HEAD", self._conn.head_account)
        first, second = (headers.get(name) or None for name in ACCOUNT_KEY_HEADERS)
        return first, second

    def set_tempurl_keys(self, key: str, key2: str | None) -> None:
        headers = {"X-Account-Meta-Temp-URL-Key": key}
        if key2:
            headers["X-Account-Meta-Temp-URL-Key-2"] = key2
        self._call("account POST", self._conn.post_account, headers)
