"""Storage faults against a real Swift that is stopped, killed, frozen, or whose token expired.

These tests own a Swift of their own, so stopping it never disturbs the session's.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import create_app
from app.web.runtime import Runtime
from tests.support.constants import TOKEN
from tests.support.problems import assert_problem
from tests.support.servers import StorageServer
from tests.support.storage_requests import record_storage_requests

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StorageServer]:
    with StorageServer(tmp_path_factory.mktemp("faulty-swift")) as server:
        yield server


@pytest.fixture
def settings(storage: StorageServer) -> dict[str, str]:
    if storage.process is None:  # a previous test left it stopped
        storage.start()
    return storage.env | {
        "API_TOKENS": TOKEN,
        "STORAGE_TIMEOUT": "0.5",
        "READY_CACHE_SECONDS": "0",
        "UPLOAD_CONTAINER": "faults",
    }


def wait_status(client, path: str, status: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while (code := client.get(path).status_code) != status:
        assert time.monotonic() < deadline, f"{path} stayed {code}, wanted {status}"
        time.sleep(0.2)


def assert_503_with_retry_after(response) -> None:
    assert_problem(response, 503)
    assert int(response.headers["Retry-After"]) > 0


def proxy_pid(storage: StorageServer) -> int:
    """The Swift proxy process among the children of ``upload-signer storage``."""
    parent = storage.process.pid
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    for pid in children:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"app.embedded.launch" in command and b"proxy" in command:
            return int(pid)
    raise AssertionError("no proxy process found")


def test_storage_down_at_start_answers_503_then_heals_without_restart(storage, settings, caplog):
    storage.stop()
    app = create_app(settings)
    client = app.test_client()
    assert_503_with_retry_after(client.post("/uploads", json={"filename": "a"}, headers=AUTH))
    assert_503_with_retry_after(client.get("/readyz"))
    storage.start()
    wait_status(client, "/readyz", 200)
    assert client.post("/uploads", json={"filename": "a"}, headers=AUTH).status_code == 201


def test_storage_stopped_later_turns_readiness_off_and_back_on(storage, settings, caplog):
    client = create_app(settings).test_client()
    assert client.get("/readyz").status_code == 200
    storage.stop()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            assert_503_with_retry_after(client.get("/readyz"))
        # Signing needs no storage call: uploads are still signed during the outage.
        assert client.post("/uploads", json={"filename": "a"}, headers=AUTH).status_code == 201
        storage.start()
        wait_status(client, "/readyz", 200)
    outage = [
        r for r in caplog.records if r.name == "app.storage.readiness" and "not ready" in r.message
    ]
    assert len(outage) == 1  # one line for the outage, not one per probe
    assert any("ready again" in r.message for r in caplog.records)


def test_storage_killed_is_survived(storage, settings):
    client = create_app(settings).test_client()
    assert client.get("/readyz").status_code == 200
    storage.process.kill()  # SIGKILL: its servers die with it (PR_SET_PDEATHSIG)
    storage.process.wait()
    wait_status(client, "/readyz", 503, timeout=15)
    assert_503_with_retry_after(client.get("/readyz"))
    storage.stop()
    storage.start()
    wait_status(client, "/readyz", 200)


def test_frozen_storage_times_out_instead_of_hanging_a_worker(storage, settings, monkeypatch):
    client = create_app(settings).test_client()
    assert client.get("/readyz").status_code == 200
    requests = record_storage_requests(monkeypatch, storage.port)
    answers = []
    probe = threading.Thread(target=lambda: answers.append(client.get("/readyz")), daemon=True)
    pid = proxy_pid(storage)
    os.kill(pid, signal.SIGSTOP)  # connections are accepted by the kernel, never answered
    try:
        probe.start()
        # STORAGE_TIMEOUT is 0.5 s; without it the probe would hang for as long as storage stays
        # frozen. 30 s only tells an answer from a hang, whatever a busy machine adds.
        probe.join(30)
        hung = probe.is_alive()
    finally:
        os.kill(pid, signal.SIGCONT)
    assert not hung, "/readyz hung on the frozen store"
    assert_503_with_retry_after(answers[0])
    assert "no answer in time" in answers[0].get_json()["detail"]
    assert len(requests) == 1, requests.sent  # one attempt: a timeout is not retried
    wait_status(client, "/readyz", 200)


def test_an_expired_storage_token_is_renewed_transparently(storage, settings):
    app = create_app(settings)
    client = app.test_client()
    connection = Runtime.of(app).storage.store._conn
    connection.token = "AUTH_tk" + "0" * 32  # what Swift says of an expired token: 401
    assert client.get("/readyz").status_code == 200
    assert connection.token != "AUTH_tk" + "0" * 32
