"""TempURL signing: pure CPU, one HMAC per URL, no storage request."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import quote, urlsplit

from swiftclient.utils import generate_temp_url

from ..observability.metrics import record_signed
from .interface import ObjectStore


@dataclass(frozen=True)
class Signer:
    """Signs URLs for objects of one container on the storage's public endpoint."""

    storage_url: str  # e.g. http://127.0.0.1:8080/v1/AUTH_local
    container: str
    key: str = field(repr=False)
    digest: str = "sha256"
    # Parsed once: signing is the hot path, the storage URL never changes.
    _origin: str = field(init=False, repr=False, compare=False)
    _account: str = field(init=False, repr=False, compare=False)
    _quoted_container_path: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.storage_url)
        object.__setattr__(self, "_origin", f"{parts.scheme}://{parts.netloc}")
        object.__setattr__(self, "_account", parts.path.rstrip("/"))
        object.__setattr__(self, "_quoted_container_path", self.quoted_path("", self.container))

    def quoted_path(self, object_name: str, container: str) -> str:
        return quote(self.object_path(object_name, container))

    def object_path(self, object_name: str, container: str | None = None) -> str:
        return f"{self._account}/{container or self.container}/{object_name}"

    def sign(
        self,
        method: str,
        object_name: str,
        expires: int,
        filename: str | None = None,
        container: str | None = None,
        *,
        ip_range: str | None = None,
        prefix: str | None = None,
    ) -> str:
        """An absolute TempURL valid until the Unix time ``expires``.

        Swift checks the HMAC over the raw (unquoted) path, so sign that, then percent-encode
        the path for the URL. ``filename`` is outside the signature: Swift turns it into
        ``Content-Disposition`` on GET. ``container`` defaults to the upload container.
        ``ip_range`` (an address or CIDR) limits the URL to clients Swift sees at that
        address. With ``prefix`` (which ``object_name`` starts with) the signature covers
        every object under it (``temp_url_prefix``).
        """
        if prefix is not None and not object_name.startswith(prefix):
            raise ValueError("object_name must start with prefix")
        query = self.signed_query(method, object_name, expires, container, ip_range, prefix)
        if container is None:  # the hot path: the upload container's part is quoted once
            path = self._quoted_container_path + quote(object_name)
        else:
            path = self.quoted_path(object_name, container)
        url = f"{self._origin}{path}?{query}"
        if filename is not None:
            url += "&filename=" + quote(filename, safe="")
        record_signed(method)
        return url

    def signed_query(
        self,
        method: str,
        object_name: str,
        expires: int,
        container: str | None,
        ip_range: str | None,
        prefix: str | None,
    ) -> str:
        """The query string that carries the signature (``temp_url_sig=…&temp_url_expires=…``)."""
        signed = generate_temp_url(
            self.object_path(prefix if prefix is not None else object_name, container),
            expires,
            self.key,
            method,
            absolute=True,
            prefix=prefix is not None,
            ip_range=ip_range,
            digest=self.digest,
        )
        return signed.rpartition("?")[2]  # an object name may hold a "?" itself

    def form(
        self,
        prefix: str,
        expires: int,
        max_file_size: int,
        max_file_count: int = 1,
        container: str | None = None,
    ) -> tuple[str, dict[str, str]]:
        """A FormPOST grant: the form's URL and its fields, in the order the form sends them.

        Swift's ``formpost`` stores each file as ``prefix`` + the file part's filename, refuses a
        file over ``max_file_size`` bytes (400, nothing stored) and more than ``max_file_count``
        files. swiftclient has no form signer: the HMAC is the one formpost.py documents, over
        ``path\nredirect\nmax_file_size\nmax_file_count\nexpires``, written as tempurl
        signatures are (hex; ``sha512:`` and unpadded urlsafe base64 for sha512).
        """
        redirect = ""
        path = self.object_path(prefix, container)
        body = f"{path}\n{redirect}\n{max_file_size}\n{max_file_count}\n{expires}"
        mac = hmac.new(self.key.encode(), body.encode(), getattr(hashlib, self.digest))
        if self.digest == "sha512":
            signature = "sha512:" + base64.urlsafe_b64encode(mac.digest()).decode().strip("=")
        else:
            signature = mac.hexdigest()
        fields = {
            "redirect": redirect,
            "max_file_size": str(max_file_size),
            "max_file_count": str(max_file_count),
            "expires": str(expires),
            "signature": signature,
        }
        record_signed("POST")
        return f"{self._origin}{quote(path)}", fields


@lru_cache(maxsize=64)  # expiry times repeat within a second: formatted once per worker
def iso8601(timestamp: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def signer_for(store: ObjectStore, container: str, key: str, digest: str) -> Signer:
    """The signer of ``store``: its own where a backend signs itself (pyrax), else ours."""
    make_signer = getattr(store, "make_signer", None)
    if make_signer is not None:
        return make_signer(container, key, digest)
    return Signer(store.public_url, container, key, digest)
