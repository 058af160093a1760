"""What the service asked storage: every HTTP request python-swiftclient sends in this process.

A test that must show a call failed fast, or was not retried, counts requests instead of timing
the call: a count does not change when the machine is busy.
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import pytest
from swiftclient import client as swift


class StorageRequests:
    """``"METHOD /path"`` of each request, in the order sent (retries and re-authentication
    included), recorded as it goes out: a request still waiting on a frozen store is in."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: list[str] = []

    def add(self, method: str, url: str) -> None:
        with self._lock:
            self._sent.append(f"{method} {urlsplit(url).path}")

    @property
    def sent(self) -> list[str]:
        with self._lock:
            return list(self._sent)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sent)


def record_storage_requests(monkeypatch: pytest.MonkeyPatch, port: int) -> StorageRequests:
    """Records the requests every swiftclient connection sends to the storage on ``port`` until
    the test ends. Only that storage's: a store an earlier test left behind (its app's
    background re-authentication, say) sends its own requests to a server gone since."""
    requests = StorageRequests()
    send = swift.HTTPConnection._request

    def recorded(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.parsed_url.port == port:
            requests.add(method, url)
        return send(self, method, url, *args, **kwargs)

    monkeypatch.setattr(swift.HTTPConnection, "_request", recorded)
    return requests
