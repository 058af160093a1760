"""The static demo page on its own origin, for ``upload-signer dev``, the tests and the benchmark.

Its ``config.js`` (API base URL and token) is served from memory, so tests never read or clobber
a developer's ``frontend/config.js``, and nothing is cached: edits show on reload.
"""

from __future__ import annotations

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FRONTEND_DIR = Path(__file__).resolve().parents[2] / "frontend"


class _Handler(SimpleHTTPRequestHandler):
    server: FrontendServer

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/config.js":
            self._config()
        else:
            super().do_GET()

    def _config(self) -> None:
        body = self.server.config
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/javascript; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # the API's access log is the interesting one


class FrontendServer(ThreadingHTTPServer):
    """``directory`` over HTTP in a background thread; ``config`` is config.js (None: 404).

    Port 0 lets the kernel pick a free port at bind time (no race between tests).
    """

    daemon_threads = True

    def __init__(
        self,
        config: bytes | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        directory: Path = FRONTEND_DIR,
    ) -> None:
        try:
            super().__init__((host, port), partial(_Handler, directory=str(directory)))
        except OSError as exc:
            raise OSError(f"cannot serve the frontend on {host}:{port}: {exc.strerror}") from exc
        self.config = config
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FrontendServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self.shutdown()
            self._thread.join(10)
        self.server_close()

    def __enter__(self) -> FrontendServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
