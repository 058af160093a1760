"""OpenStack Swift through python-swiftclient (Swift v1 auth: tempauth, swauth)."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus

from swiftclient import client as swift
from swiftclient.exceptions import ClientException

from ..config import SwiftV1Auth
from . import StorageError

log = logging.getLogger(__name__)
ACCOUNT_KEY_HEADERS = ("x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2")


def _describe(exc: Exception) -> str:
    """A one-line reason that never carries the token or a signed URL."""
    if isinstance(exc, ClientException):
        if exc.http_status is not None:
            try:
                phrase = HTTPStatus(exc.http_status).phrase
            except ValueError:
                phrase = exc.http_reason or ""
            return f"storage answered {exc.http_status} {phrase}".strip()
        return "storage unreachable"
    return f"storage unreachable ({type(exc).__name__})"


class SwiftStore:
    def __init__(self, auth: SwiftV1Auth, timeout: float = 10.0) -> None:
        # swiftclient re-authenticates by itself when a call gets 401 (expired token); one
        # retry is enough for that, and keeps a dead store from holding a request for long.
        self._conn = swift.Connection(
            authurl=auth.auth_url,
            user=auth.user,
            key=auth.key,
            auth_version="1",
            retries=1,
            starting_backoff=0.2,
            max_backoff=1,
            timeout=timeout,
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
        return self._call("container HEAD", self._conn.head_container, container, missing_ok=True)

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

    def delete_object(self, container: str, name: str) -> bool:
        deleted = self._call(
            "object DELETE",
            lambda: self._conn.delete_object(container, name) or True,
            missing_ok=True,
        )
        return bool(deleted)
