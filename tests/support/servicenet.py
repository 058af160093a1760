"""A second network path to one real Swift, as Rackspace's ServiceNet is to Cloud Files.

A TCP relay on a free 127.0.0.1 port that passes bytes unchanged to the Swift proxy, connecting
*from* 127.0.0.2: the proxy's own access log then tells the calls that came through ServiceNet
(client 127.0.0.2) from those that came the public way (client 127.0.0.1).
"""

from __future__ import annotations

import selectors
import socket
import threading

SOURCE = "127.0.0.2"  # Linux answers all of 127/8 on the loopback interface


class ServiceNet:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._peers: dict[socket.socket, socket.socket] = {}
        self._thread = threading.Thread(target=self._run, name="servicenet", daemon=True)

    def url(self, path: str = "") -> str:
        """``path`` (e.g. ``/v1/AUTH_local``) on the relay instead of the proxy."""
        return f"http://127.0.0.1:{self.port}{path}"

    def _connect(self, selector: selectors.BaseSelector) -> None:
        client, _ = self._listener.accept()
        try:
            upstream = socket.create_connection(self.target, source_address=(SOURCE, 0))
        except OSError:
            client.close()  # Swift is down: the caller sees the connection drop, as it would
            return
        self._peers[client], self._peers[upstream] = upstream, client
        for sock in (client, upstream):
            selector.register(sock, selectors.EVENT_READ)

    def _drop(self, selector: selectors.BaseSelector, sock: socket.socket) -> None:
        for each in (sock, self._peers.pop(sock, None)):
            if each is not None:
                self._peers.pop(each, None)
                selector.unregister(each)
                each.close()

    def _run(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wake_reader, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    sock = key.fileobj
                    if sock is self._wake_reader:
                        for each in list(self._peers):
                            if each in self._peers:
                                self._drop(selector, each)
                        return
                    if sock is self._listener:
                        self._connect(selector)
                        continue
                    if sock not in self._peers:
                        continue  # dropped earlier in this round with its peer
                    try:
                        data = sock.recv(65536)
                        if data:
                            self._peers[sock].sendall(data)
                            continue
                    except OSError:
                        pass
                    self._drop(selector, sock)

    def __enter__(self) -> ServiceNet:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._wake_writer.send(b"x")
        self._thread.join(10)
        for sock in (self._listener, self._wake_reader, self._wake_writer):
            sock.close()
