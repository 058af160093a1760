"""Keys, JWTs and a real local JWKS HTTP server for the authentication tests."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

AUDIENCE = "upload-signer-tests"
ISSUER = "https://idp.test/"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(private_key: Any, kid: str) -> dict[str, Any]:
    if isinstance(private_key, rsa.RSAPrivateKey):
        jwk = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
        jwk["alg"] = "RS256"
    else:
        jwk = ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
        jwk["alg"] = "ES256"
    return jwk | {"kid": kid, "use": "sig"}


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": "user-42", "aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": now + 300}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def token(key: Any, algorithm: str, kid: str | None = None, **changes: Any) -> str:
    headers = {"kid": kid} if kid else None
    return jwt.encode(claims(**changes), key, algorithm=algorithm, headers=headers)


class JwksServer:
    """Serves ``{"keys": [...]}`` at /jwks.json on a free port and counts the fetches; answers
    ``status`` after ``delay`` seconds, so a test can make the identity provider fail or slow.

    Clearing ``answering`` holds every fetch that comes in until it is set again (or for at most
    HOLD seconds), so a test can observe what the service does while a fetch is in flight."""

    HOLD = 60.0

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.status, self.delay, self.fetches = 200, 0.0, 0
        self.answering = threading.Event()
        self.answering.set()
        self.last_answered = 0.0  # time.monotonic() when the last answer went out
        self._lock = threading.Lock()
        self._held: list[socket.socket] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.fetches += 1
                if not server.answering.is_set():
                    with server._lock:
                        server._held.append(self.connection)
                    try:
                        server.answering.wait(server.HOLD)
                    finally:
                        with server._lock:
                            server._held.remove(self.connection)
                time.sleep(server.delay)  # a slow provider, as the service sees it
                body = json.dumps({"keys": server.keys}).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                server.last_answered = time.monotonic()

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def waiting_clients(self) -> int:
        """Fetches held by ``answering`` whose client still waits for the answer: it has neither
        timed out nor otherwise hung up."""
        with self._lock:
            held = list(self._held)
        return sum(not _hung_up(connection) for connection in held)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/jwks.json"

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.answering.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def _hung_up(connection: socket.socket) -> bool:
    """A client that sent its GET has nothing more to say: a readable socket has been closed."""
    if not select.select([connection], [], [], 0)[0]:
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True
