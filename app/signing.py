"""TempURL signing: pure CPU, one HMAC per URL, no storage request."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
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

    def object_path(self, object_name: str) -> str:
        return f"{urlsplit(self.storage_url).path.rstrip('/')}/{self.container}/{object_name}"

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
        path, query = signed.split("?", 1)
        base = urlsplit(self.storage_url)
        url = f"{base.scheme}://{base.netloc}{quote(path)}?{query}"
        if filename is not None:
            url += "&filename=" + quote(filename, safe="")
        record_signed(method)
        return url


def iso8601(timestamp: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
