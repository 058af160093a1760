"""The benchmark's emulated link: its delay and per-connection rate hold, connections add up."""

from __future__ import annotations

import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from bench.harness import CpuMeter, process_kind
from bench.link import emulated_link, emulated_links, parse_rate

MiB = 1024 * 1024


class Sink:
    """A TCP server on a free port that reads everything and answers the byte count."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    @staticmethod
    def _drain(conn: socket.socket) -> None:
        with conn:
            total = 0
            while chunk := conn.recv(1 << 16):
                total += len(chunk)
            conn.sendall(str(total).encode())

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def sink():
    server = Sink()
    yield server
    server.close()


def send_through(url: str, size: int) -> tuple[float, int]:
    """Seconds to send ``size`` bytes and hear the count back, and the count."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port))) as conn:
        conn.sendall(os.urandom(size))
        conn.shutdown(socket.SHUT_WR)
        answer = conn.recv(64)
    return time.monotonic() - started, int(answer)


def test_rates_are_parsed_like_the_size_settings():
    assert parse_rate("32M") == 32 * MiB and parse_rate("512k") == 512 * 1024
    assert parse_rate("1000") == 1000


def test_one_connection_gets_the_rate_and_the_round_trip(sink):
    with emulated_link(f"http://127.0.0.1:{sink.port}", 8 * MiB, 100) as url:
        seconds, received = send_through(url, 4 * MiB)
    assert received == 4 * MiB
    # 0.5 s at 8 MiB/s, plus the handshake's round trip and a one-way delay each way.
    assert 0.6 <= seconds < 2.0


def test_parallel_connections_each_get_the_rate(sink):
    with emulated_link(f"http://127.0.0.1:{sink.port}", 8 * MiB, 20) as url:
        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: send_through(url, 4 * MiB), range(4)))
        together = time.monotonic() - started
    assert [received for _, received in results] == [4 * MiB] * 4
    # Each connection is held to the rate: 4 MiB at 8 MiB/s takes 0.5 s at least.
    assert all(seconds >= 0.5 for seconds, _ in results), results
    # 16 MiB in all: four connections sharing one rate of 8 MiB/s would need 2 s at least; each
    # with a rate of its own, about 0.5 s. Below 1.5 s leaves a busy machine a second to spare.
    assert together < 1.5, results


def test_the_link_process_is_gone_after_the_block(sink):
    with emulated_link(f"http://127.0.0.1:{sink.port}", MiB, 10) as url:
        port = int(url.rsplit(":", 1)[1])
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_cpu_meter_tells_swift_servers_apart_and_counts_their_work(swift):
    assert process_kind(str(os.getpid())) is None
    kinds = {process_kind(pid) for pid in os.listdir("/proc") if pid.isdigit()}
    servers = {"swift account-server", "swift container-server", "swift object-server"}
    assert servers | {"swift proxy-server"} <= kinds
    meter = CpuMeter()
    meter.start()
    for _ in range(200):
        requests.get(swift.url + "/info", timeout=5)
    used = meter.stop()
    assert used.get("swift proxy-server", 0) > 0
    assert all(kind.startswith(("chromium ", "swift ")) for kind in used)


def test_targets_of_one_link_share_its_uplink(sink):
    other = Sink()
    try:
        targets = [f"http://127.0.0.1:{server.port}" for server in (sink, other)]
        with emulated_links(targets, 64 * MiB, 10, uplink=4 * MiB) as relays:
            started = time.monotonic()
            with ThreadPoolExecutor(2) as pool:
                results = list(pool.map(lambda url: send_through(url, MiB), relays.urls))
            together = time.monotonic() - started
            stats = relays.stats()
    finally:
        other.close()
    assert [received for _, received in results] == [MiB, MiB]
    # 2 MiB through one 4 MiB/s uplink: 0.5 s (each target alone would take 0.25 s).
    assert 0.45 <= together < 1.5
    assert [(s["connections"], s["bytes_up"]) for s in stats] == [(1, MiB), (1, MiB)]
