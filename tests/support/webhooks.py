"""A real webhook receiver on a free port, for the tests of completion events."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Recording(ThreadingHTTPServer):
    """Records each POST (headers and body) and answers ``first`` statuses in turn, then
    ``status`` (with ``location``, for a redirect)."""

    def __init__(
        self, status: int, location: str | None = None, first: tuple[int, ...] = ()
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.status, self.location = status, location
        self._first = list(first)
        self.received: list[tuple[dict[str, str], bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/hook"

    @property
    def bodies(self) -> list[bytes]:
        return [body for _, body in self.received]

    def answer(self) -> int:
        return self._first.pop(0) if self._first else self.status


class _Handler(BaseHTTPRequestHandler):
    server: Recording

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((dict(self.headers), body))
        self.send_response(self.server.answer())
        if self.server.location:
            self.send_header("Location", self.server.location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def receiving(
    status: int = 204, location: str | None = None, first: tuple[int, ...] = ()
) -> Iterator[Recording]:
    server = Recording(status, location, first)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
