"""TempURL signing: pure CPU, one HMAC per URL, no storage request."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import quote, urlsplit

from swiftclient.utils import generate_temp_url

from .metrics import record_signed


@dataclass(frozen=True)
class Signer:
    """Signs URLs for objects of one container on the storage's public endpoint."""

    storage_url: str  # e.g. http://127.0.0.1:8080/v1/AUTH_local
    container: str
    key: str = field(repr=False)
    digest: str = "sha256"

    # Parsed once per signer, not per URL: signing is on every request's path.
    @cached_property
    def _container_path(self) -> str:
        return f"{urlsplit(self.storage_url).path.rstrip('/')}/{self.container}/"

    @cached_property
    def _quoted_base(self) -> str:
        base = urlsplit(self.storage_url)
        return f"{base.scheme}://{base.netloc}{quote(self._container_path)}"

    def object_path(self, object_name: str) -> str:
        return self._container_path + object_name

    def sign(self, method: str, object_name: str, expires: int, filename: str | None = None) -> str:
        """An absolute TempURL valid until the Unix time ``expires``.

        Swift checks the HMAC over the raw (unquoted) path, so sign that, then percent-encode
        the path for the URL. ``filename`` is outside the signature: Swift turns it into
        ``Content-Disposition`` on GET.
        """
        signed = generate_temp_url(
            self.object_path(object_name),
            expires,
            self.key,
            method,
            absolute=True,
            digest=self.digest,
        )
        query = signed.split("?", 1)[1]
        url = f"{self._quoted_base}{quote(object_name)}?{query}"
        if filename is not None:
            url += "&filename=" + quote(filename, safe="")
        record_signed(method)
        return url


def iso8601(timestamp: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
