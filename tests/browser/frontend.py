"""The demo page served on its own origin, and Debian's Chromium launched for it.

Shared by the browser tests and ``bench/browser_upload.py``.
"""

from __future__ import annotations

import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from playwright.sync_api import Browser, Playwright

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
CHROMIUM = "/usr/bin/chromium"
# No internet here: without these, Chromium keeps trying to reach Google services.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-dev-shm-usage",
]


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def config_js(api_base: str, token: str) -> bytes:
    """What ``upload-signer dev`` writes to frontend/config.js."""
    return f"export default {json.dumps({'apiBase': api_base, 'token': token})};\n".encode()


class _Handler(SimpleHTTPRequestHandler):
    server: FrontendServer

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/config.js":
            self._config()
        else:
            super().do_GET()

    def _config(self) -> None:
        # Served from memory so tests never touch a developer's frontend/config.js.
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

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass


class FrontendServer(ThreadingHTTPServer):
    """frontend/ over HTTP on a free port, with ``config.js`` from memory (None = 404)."""

    daemon_threads = True

    def __init__(self, config: bytes | None = None, host: str = "127.0.0.1") -> None:
        # Port 0: the kernel picks a free port at bind time, so there is no race for it.
        super().__init__((host, 0), partial(_Handler, directory=str(FRONTEND)))
        self.config = config
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FrontendServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(10)
