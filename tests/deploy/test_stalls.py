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
import select
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
# A request stuck behind a slow client waits until gunicorn kills a worker (its timeout, 30 s):
# on sync workers /healthz timed out at 5 s and signing took 26.8 s (docs/operations.md). Answers
# take milliseconds; 5 s tells the two apart however busy the machine is.
STUCK = 5.0


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


def answered(conn: http.client.HTTPConnection) -> bool:
    """Whether the server has answered on ``conn`` (or hung up) by now."""
    return bool(select.select([conn.sock], [], [], 0)[0])


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
        early = sum(answered(conn) for conn in waiting)
    finally:
        os.kill(pid, signal.SIGCONT)
        for conn in waiting:
            conn.close()
    assert [status for status, _ in answers] == [201] * 10
    # Each complete holds its thread until its storage call times out (STORAGE_TIMEOUT, 10 s).
    # Signing done before any of them was answered never waited for one of their threads.
    assert early == 0, f"{early} of 6 completes answered before signing was done: {answers}"


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
                status = requests.get(f"{api.url}/healthz", timeout=STUCK).status_code
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
    assert slowest < STUCK, f"slowest {slowest:.2f} s: {json.dumps(answers)}"
