"""Rackspace Cloud Files through pyrax 1.10.0, the original SDK (``STORAGE_BACKEND=pyrax``).

pyrax is unmaintained; its pinned dependencies need ``collections``' old ABC aliases on Python
>= 3.10 (:mod:`app.storage.pyrax_compat`), so this module imports pyrax only when a store is
built, never at the top.

pyrax limits handled here: TempURLs are SHA1 only and GET/PUT only (the settings insist on
``TEMPURL_DIGEST=sha1``), ASCII paths only (object names are UUIDs; the settings check the
container), no ``filename`` option (appended here, outside the signature, as Swift expects), and
``get_temp_url_key()`` misses the key (it looks for a header name in the wrong case), so the key
is read from the account headers and always passed explicitly.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from ..settings.storage import RackspaceAuth
from .interface import (
    REAUTH_MARGIN,
    StorageError,
    account_tempurl_keys,
    describe_failure,
    tempurl_key_headers,
)
from .pyrax_compat import alias_collections_abc
from .signing import Signer

log = logging.getLogger(__name__)
alias_collections_abc()  # before anything imports pyrax or its pinned dependencies


def _describe(exc: Exception) -> str:
    """pyrax exceptions carry the HTTP code in ``.code`` when there is one."""
    code = getattr(exc, "code", None)
    return describe_failure(exc, code if isinstance(code, int) else None)


@dataclass(frozen=True)
class PyraxSigner(Signer):
    """Signs with pyrax's ``get_temp_url``; the URL is built as :class:`Signer` builds it."""

    digest: str = "sha1"
    client: Any = field(default=None, repr=False, compare=False)

    def signed_query(self, method: str, object_name: str, expires: int, *where: str | None) -> str:
        container, ip_range, prefix = where  # as Signer.sign passes them
        if ip_range is not None or prefix is not None:
            raise ValueError("pyrax cannot sign temp_url_ip_range or temp_url_prefix URLs")
        if method not in ("GET", "PUT"):
            raise ValueError(f"pyrax signs GET and PUT only, not {method}")
        if not object_name.isascii():
            raise ValueError("pyrax signs ASCII object names only")
        # pyrax takes seconds from now and reads the clock itself; retry in the rare case a
        # second boundary passed between our clock read and its own.
        for _ in range(3):
            url = self.client.get_temp_url(
                container or self.container,
                object_name,
                expires - int(time.time()),
                method,
                key=self.key,
            )
            query = urlsplit(url).query
            if parse_qs(query)["temp_url_expires"] == [str(expires)]:
                return query
        raise RuntimeError("pyrax kept signing another expiry than asked")


class PyraxStore:
    """The :class:`app.storage.ObjectStore` of a Rackspace account, through a pyrax context."""

    def __init__(self, auth: RackspaceAuth, timeout: float = 10.0) -> None:
        import pyrax  # the aliases above are in place: this module's import applied them

        self.auth = auth
        self.timeout = timeout
        self._context = pyrax.create_context(
            "rackspace", username=auth.username, api_key=auth.secret
        )
        self._context.auth_endpoint = auth.identity_url + "/"
        self._exc = pyrax.exceptions
        self._lock = threading.Lock()
        self._clients: dict[bool, Any] = {}

    # -- identity -----------------------------------------------------------------------------
    def authenticate(self) -> None:
        with self._lock:
            self._clients.clear()
            try:
                self._context.authenticate()
            except self._exc.AuthenticationFailed:
                raise StorageError(
                    "Rackspace identity refused the credentials: "
                    "check RACKSPACE_USERNAME and RACKSPACE_API_KEY"
                ) from None
            except self._exc.InternalServerError:
                raise StorageError("Rackspace identity answered 5xx; try again later") from None
            except Exception as exc:  # pyrax raises KeyError & co. on odd answers
                raise StorageError(
                    f"Rackspace identity unreachable at {self.auth.identity_url} "
                    f"({type(exc).__name__})"
                ) from None

    def _region(self) -> str:
        service = self._context.services.get("object_store")
        if service is None:
            raise StorageError("the Rackspace catalog has no Cloud Files (object-store) service")
        regions = sorted(region.upper() for region in service.endpoints)
        region = self.auth.region or (self._context.get_default_region() or "").upper()
        if region not in regions:
            raise StorageError(
                f"Cloud Files has no endpoint in region {region or '(none set)'}; "
                f"the catalog has: {', '.join(regions) or 'none'}"
            )
        return region

    def _client(self, public: bool) -> Any:
        expires = getattr(self._context, "expires", None)
        if not self._context.authenticated or (
            isinstance(expires, datetime)
            and time.time() >= expires.timestamp() - REAUTH_MARGIN  # naive: local time, as pyrax
        ):
            self.authenticate()
        if public not in self._clients:
            try:
                client = self._context.get_client("object_store", self._region(), public=public)
            except self._exc.NoSuchClient:
                kind = "publicURL" if public else "internalURL"
                raise StorageError(f"Cloud Files has no {kind} in {self._region()}") from None
            client.timeout = self.timeout
            self._clients[public] = client
        return self._clients[public]

    @property
    def _own(self) -> Any:
        return self._client(public=not self.auth.servicenet)

    def _call(self, what: str, method: str, path: str, missing_ok: bool = False, **kwargs: Any):
        try:
            response, _ = getattr(self._own, f"method_{method}")(path, **kwargs)
            return response
        except self._exc.NotFound:
            if missing_ok:
                return None
            raise StorageError(f"{what}: storage answered 404") from None
        except StorageError:
            raise
        except Exception as exc:
            reason = _describe(exc)
            log.warning("storage %s failed: %s", what, reason)
            raise StorageError(f"{what}: {reason}") from None

    @property
    def public_url(self) -> str:
        return self._client(public=True).management_url.rstrip("/")

    @property
    def own_url(self) -> str:
        return self._own.management_url.rstrip("/")

    @property
    def region(self) -> str | None:
        self._own  # noqa: B018  -- authenticates if needed
        return self._region()

    # -- the ObjectStore operations -----------------------------------------------------------
    def delete_object(self, container: str, name: str) -> bool:
        """Delete; False if it was not there."""
        found = self._call("object DELETE", "delete", f"/{container}/{name}", missing_ok=True)
        return found is not None

    def head_object(self, container: str, name: str) -> dict[str, str] | None:
        response = self._call("object HEAD", "head", f"/{container}/{name}", missing_ok=True)
        if response is None:
            return None
        return {key.lower(): value for key, value in response.headers.items()}

    def list_objects(self, container: str, prefix: str = "") -> list[dict]:
        found: list[dict] = []
        marker = ""
        while True:  # Swift lists at most 10,000 names per call
            params = {"format": "json", "prefix": prefix, "marker": marker}
            response = self._call(
                "container GET", "get", "/" + container, missing_ok=True, params=params
            )
            page = response.json() if response is not None and response.content else []
            found += page
            if not page:
                return found
            marker = page[-1]["name"]

    def put_object(self, container: str, name: str, data: bytes, headers: dict[str, str]) -> None:
        self._call("object PUT", "put", f"/{container}/{name}", data=data, headers=dict(headers))

    def put_object_once(
        self, container: str, name: str, data: bytes, headers: dict[str, str]
    ) -> bool:
        path = f"/{container}/{name}"
        return self._put_once("object PUT", path, data=data, headers=dict(headers)) is not None

    def _put_once(self, what: str, path: str, headers: dict[str, str], **kwargs: Any) -> Any:
        """A PUT with ``If-None-Match: *``: its response, or None when the object exists.

        Not through _call: a 412 is an answer here (the object exists), not a failure.
        """
        try:
            response, _ = self._own.method_put(
                path, headers=headers | {"If-None-Match": "*"}, **kwargs
            )
        except self._exc.ClientException as exc:
            if getattr(exc, "code", None) == 412:
                return None
            reason = _describe(exc)
        except StorageError:
            raise
        except Exception as exc:
            reason = _describe(exc)
        else:
            return response
        log.warning("storage %s failed: %s", what, reason)
        raise StorageError(f"{what}: {reason}") from None

    def put_manifest(
        self, container: str, name: str, segments: list[dict], headers: dict[str, str]
    ) -> str | None:
        response = self._put_once(
            "manifest PUT",
            f"/{container}/{name}",
            data=json.dumps(segments),
            headers=dict(headers),
            params={"multipart-manifest": "put"},
        )
        return None if response is None else response.headers.get("etag", "").strip('"')

    def cluster_info(self) -> dict | None:
        parts = urlsplit(self.own_url)
        try:
            response = requests.get(f"{parts.scheme}://{parts.netloc}/info", timeout=self.timeout)
            return response.json() if response.ok else None
        except (requests.RequestException, ValueError):
            return None  # /info is optional: some clusters turn it off

    def container_metadata(self, container: str) -> dict[str, str] | None:
        response = self._call("container HEAD", "head", "/" + container, missing_ok=True)
        if response is None:
            return None
        return {name.lower(): value for name, value in response.headers.items()}

    def create_container(self, container: str, headers: dict[str, str]) -> None:
        self._call("container PUT", "put", "/" + container, headers=headers)

    def update_container(self, container: str, headers: dict[str, str]) -> None:
        self._call("container POST", "post", "/" + container, headers=headers)

    def tempurl_keys(self) -> tuple[str | None, str | None]:
        # Not client.get_temp_url_key(): it misses the key (header-case bug in pyrax 1.10.0).
        response = self._call("account HEAD", "head", "")
        return account_tempurl_keys({k.lower(): v for k, v in response.headers.items()})

    def set_tempurl_keys(self, key: str, key2: str | None) -> None:
        headers = tempurl_key_headers(key, key2)
        self._call("account POST", "post", "", headers=headers)

    def make_signer(self, container: str, key: str, digest: str) -> PyraxSigner:
        if digest != "sha1":
            raise StorageError(
                "STORAGE_BACKEND=pyrax signs with SHA1 only: set TEMPURL_DIGEST=sha1"
            )
        return PyraxSigner(
            self.public_url, container, key, digest=digest, client=self._client(public=True)
        )
