"""A TCP relay in front of Swift that keeps the last byte of one chosen request back.

Everything else passes straight through, both ways. For the chosen request (``hold``, asked
with each request's method and path), the relay forwards the request line, the headers and the
body but its last byte, then holds that byte until ``release()``: the browser has sent the
whole body (its upload progress says so) and waits for the answer, storage waits for the last
byte. Once released, the byte goes on whether or not the browser is still connected, as bytes
already on the wire do when a browser aborts a request, and storage stores the object.

This is the moment a cancel cannot undo by aborting: storage will store what the browser has
sent whole. ``answered`` is set once storage has answered the held request.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

CHUNK = 64 * 1024


class HoldingRelay:
    def __init__(self, target_url: str, hold: Callable[[str, str], bool]) -> None:
        parts = urlsplit(target_url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.hold = hold
        self.held = threading.Event()  # the chosen request is in, but its last byte
        self.released = threading.Event()
        self.answered = threading.Event()  # storage answered it
        self.held_path = ""
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._chosen = False
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def release(self) -> None:
        self.released.set()

    def release_after(self, seconds: float) -> None:
        """Lets the byte go in ``seconds`` unless ``release()`` comes first: storage finishes a
        moment later whatever the browser does."""
        timer = threading.Timer(seconds, self.released.set)
        timer.daemon = True
        timer.start()

    # -- plumbing -----------------------------------------------------------------------------
    def __enter__(self) -> HoldingRelay:
        self._start(self._accept)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.released.set()
        self._server.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(5)

    def _start(self, target: Callable, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._sockets += [client, upstream]
            answered = threading.Event()  # storage sent something on this connection
            self._start(self._answers, upstream, client, answered)
            self._start(self._requests, client, upstream, answered)

    def _answers(self, upstream: socket.socket, client: socket.socket, seen: threading.Event):
        """Storage to the browser, as it comes; on after the browser has gone."""
        while data := _recv(upstream):
            seen.set()
            with contextlib.suppress(OSError):
                client.sendall(data)
        seen.set()
        with contextlib.suppress(OSError):
            client.shutdown(socket.SHUT_WR)

    def _requests(self, client: socket.socket, upstream: socket.socket, seen: threading.Event):
        """The browser to storage, request by request (Content-Length framing)."""
        buffer = b""
        while True:
            while b"\r\n\r\n" not in buffer:
                data = _recv(client)
                if not data:
                    upstream.sendall(buffer)
                    with contextlib.suppress(OSError):
                        upstream.shutdown(socket.SHUT_WR)
                    return
                buffer += data
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            method, path, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (
                    line.decode("latin-1").partition(":") for line in head.split(b"\r\n")[1:]
                )
            }
            if "content-length" not in headers and headers.get("transfer-encoding"):
                # Not framed by length (the API's own chunked requests): pass the rest as is.
                upstream.sendall(head + b"\r\n\r\n" + buffer)
                while data := _recv(client):
                    upstream.sendall(data)
                return
            length = int(headers.get("content-length", "0"))
            with self._lock:
                chosen = not self._chosen and length > 0 and self.hold(method, path)
                self._chosen = self._chosen or chosen
            upstream.sendall(head + b"\r\n\r\n")
            body_left = length - (1 if chosen else 0)
            while body_left > 0:
                if not buffer:
                    buffer = _recv(client)
                    if not buffer:
                        return  # the browser went before its body was all sent
                piece, buffer = buffer[:body_left], buffer[body_left:]
                upstream.sendall(piece)
                body_left -= len(piece)
            if not chosen:
                continue
            while not buffer:
                buffer = _recv(client)
                if not buffer:
                    return
            last, buffer = buffer[:1], buffer[1:]
            self.held_path = path
            seen.clear()
            self.held.set()
            self.released.wait()
            upstream.sendall(last)
            if seen.wait(30):
                self.answered.set()


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(CHUNK)
    except OSError:
        return b""
