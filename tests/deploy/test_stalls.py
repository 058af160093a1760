"""What a stalled store or slow clients cost the service under the production gunicorn config.

gunicorn runs with the repository's gunicorn.conf.py and its default worker count for this
machine (2 x cores + 1), against a real Swift whose proxy is frozen with SIGSTOP.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from tests.storage.test_faults import proxy_pid
from tests.support.constants import TOKEN
from tests.support.servers import ApiServer, StorageServer

AUTH = {"Authorization": f"Bearer {TOKEN}"}
DEFAULT_WORKERS = multiprocessing.cpu_count() * 2 + 1  # gunicorn.conf.py's default
BOUND = 1.5  # seconds: what a signing request may take while others wait on storage


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StorageServer]:
    with StorageServer(tmp_path_factory.mktemp("stalls-swift")) as server:
        yield server


@pytest.fixture(scope="module")
def api(storage: StorageServer) -> Iterator[ApiServer]:
    env = storage.env | {"API_TOKENS": TOKEN, "UPLOAD_CONTAINER": "stalls"}
    with ApiServer(env, workers=DEFAULT_WORKERS) as server:
        yield server


def sign(api: ApiServer) -> tuple[int, float]:
    started = time.monotonic()
    response = requests.post(
        f"{api.url}/uploads", json={"filename": "a.txt", "size": 1}, headers=AUTH, timeout=30
    )
    return response.status_code, time.monotonic() - started


def test_signing_answers_while_completes_wait_on_a_frozen_store(api, storage):
    ids = [
        requests.post(
            f"{api.url}/uploads", json={"filename": "a"}, headers=AUTH, timeout=10
        ).json()["upload_id"]
        for _ in range(6)
    ]
    pid = proxy_pid(storage)
    waiting: list[http.client.HTTPConnection] = []
    os.kill(pid, signal.SIGSTOP)
    try:
        for upload_id in ids:  # each is sent before signing starts; none can be answered yet
            conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=60)
            conn.request(
                "POST",
                f"/uploads/{upload_id}/complete",
                body=b"{}",
                headers=AUTH | {"Content-Type": "application/json"},
            )
            waiting.append(conn)
        answers = [sign(api) for _ in range(10)]
    finally:
        os.kill(pid, signal.SIGCONT)
        for conn in waiting:
            conn.close()
    assert [status for status, _ in answers] == [201] * 10
    slowest = max(elapsed for _, elapsed in answers)
    assert slowest < BOUND, f"slowest signing {slowest:.2f} s: {answers}"


def _trickle(sockets: list[socket.socket], stop: threading.Event) -> None:
    """Headers one byte per second on each connection, never finished while the test runs."""
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000
    for byte in request:
        for sock in sockets:
            with contextlib.suppress(OSError):  # the server dropped it: that is allowed
                sock.send(bytes([byte]))
        if stop.wait(1):
            return


def test_slow_header_clients_leave_healthz_and_signing_available(api):
    slow = [socket.create_connection(("127.0.0.1", api.port)) for _ in range(8)]
    stop = threading.Event()
    trickler = threading.Thread(target=_trickle, args=(slow, stop), daemon=True)
    trickler.start()
    answers = []
    try:
        deadline = time.monotonic() + 8  # a few waves of one byte each
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                status = requests.get(f"{api.url}/healthz", timeout=5).status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            answers.append(("healthz", status, round(time.monotonic() - started, 2)))
            status, elapsed = sign(api)
            answers.append(("sign", status, round(elapsed, 2)))
            stop.wait(0.5)
    finally:
        stop.set()
        trickler.join(5)
        for sock in slow:
            sock.close()
    assert all(status in (200, 201) for _, status, _ in answers), answers
    slowest = max(elapsed for _, _, elapsed in answers)
    assert slowest < BOUND, f"slowest {slowest:.2f} s: {json.dumps(answers)}"
