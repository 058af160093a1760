"""The deadline of a storage call and the circuit breaker, against a real Swift that is frozen."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import pytest

from app import create_app
from app.settings.service import Settings
from app.storage.breaker import CircuitBreaker, StorageUnavailable
from app.storage.interface import StorageError
from app.storage.readiness import StorageReadiness
from app.storage.swift import SwiftStore
from tests.storage.test_faults import assert_503_with_retry_after, proxy_pid
from tests.support.constants import TOKEN
from tests.support.servers import StorageServer
from tests.support.storage_requests import record_storage_requests
from tests.support.waiting import wait_until

TIMEOUT = 2.0


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StorageServer]:
    with StorageServer(tmp_path_factory.mktemp("breaker-swift")) as server:
        yield server


@pytest.fixture
def frozen(storage: StorageServer) -> Iterator[int]:
    """The Swift proxy stopped: connections are accepted by the kernel and never answered."""
    pid = proxy_pid(storage)
    os.kill(pid, signal.SIGSTOP)
    try:
        yield pid
    finally:
        os.kill(pid, signal.SIGCONT)


def store_of(storage: StorageServer, breaker: CircuitBreaker | None = None) -> SwiftStore:
    settings = Settings.from_env(storage.env | {"API_TOKENS": TOKEN})
    store = SwiftStore(settings.storage, timeout=TIMEOUT, breaker=breaker)
    store.authenticate()
    return store


def outcome(call) -> StorageError | None:
    try:
        call()
    except StorageError as exc:
        return exc
    return None


def test_a_call_to_a_frozen_store_ends_after_one_timeout_not_one_per_retry(storage, monkeypatch):
    store = store_of(storage)
    requests = record_storage_requests(monkeypatch, storage.port)
    pid = proxy_pid(storage)
    os.kill(pid, signal.SIGSTOP)
    try:
        error = outcome(lambda: store.head_object("uploads", "x"))
    finally:
        os.kill(pid, signal.SIGCONT)
    assert isinstance(error, StorageError)
    assert "unreachable (no answer in time)" in str(error)
    # One attempt, which timed out; a retry would be a second request (and a second TIMEOUT).
    assert len(requests) == 1, requests.sent
    assert requests.sent[0].startswith("HEAD ") and requests.sent[0].endswith("/uploads/x")


def test_after_consecutive_timeouts_calls_fail_fast_then_one_probe_heals(storage, monkeypatch):
    now = [0.0]  # the breaker's clock: the cool-down ends when the test moves it on
    breaker = CircuitBreaker(threshold=2, cooldown=1.0, clock=lambda: now[0])
    store = store_of(storage, breaker)
    requests = record_storage_requests(monkeypatch, storage.port)
    pid = proxy_pid(storage)
    os.kill(pid, signal.SIGSTOP)
    try:
        for _ in range(2):
            assert isinstance(outcome(lambda: store.container_metadata("x")), StorageError)
        assert breaker.state == "open"
        assert len(requests) == 2
        # Open: refused at once, without a storage request (one would wait TIMEOUT on the freeze).
        for _ in range(5):
            assert isinstance(outcome(lambda: store.container_metadata("x")), StorageUnavailable)
        assert len(requests) == 2, requests.sent
        now[0] += 1.0  # the cool-down
        assert breaker.state == "half-open"
        # Half-open: one probe goes to storage (and waits for it), the others still fail fast.
        probe = threading.Thread(target=lambda: outcome(lambda: store.container_metadata("x")))
        probe.start()
        wait_until(lambda: len(requests) == 3, message="the probe never reached storage")
        assert breaker.state == "open"
        assert isinstance(outcome(lambda: store.container_metadata("x")), StorageUnavailable)
        probe.join()
        assert len(requests) == 3, requests.sent  # the probe's, and no other
        assert breaker.state == "open"  # the probe timed out: another cool-down
    finally:
        os.kill(pid, signal.SIGCONT)
    now[0] += 1.0
    assert store.container_metadata("nonexistent") is None  # the probe reaches storage again
    assert breaker.state == "closed"
    assert len(requests) == 4


def test_readiness_and_requests_answer_503_fast_while_the_breaker_is_open(
    storage, frozen, monkeypatch
):
    env = storage.env | {
        "API_TOKENS": TOKEN,
        "STORAGE_TIMEOUT": "0.5",
        "READY_CACHE_SECONDS": "0",
        "UPLOAD_CONTAINER": "breaker",
    }
    os.kill(frozen, signal.SIGCONT)
    client = create_app(env).test_client()
    assert client.get("/readyz").status_code == 200
    requests = record_storage_requests(monkeypatch, storage.port)
    os.kill(frozen, signal.SIGSTOP)
    for _ in range(3):  # the breaker's threshold of consecutive timeouts
        assert_503_with_retry_after(client.get("/readyz"))
    assert len(requests) == 3, requests.sent
    assert_503_with_retry_after(client.get("/readyz"))
    assert "unavailable" in client.get("/readyz").get_json()["detail"]
    # Two answers, neither of which asked storage (and so waited 0.5 s on the freeze).
    assert len(requests) == 3, requests.sent
    os.kill(frozen, signal.SIGCONT)
    # The probe after the cool-down heals it.
    wait_until(lambda: client.get("/readyz").status_code == 200, interval=0.2)


def test_readiness_probes_waiting_behind_a_slow_one_share_its_answer(storage, monkeypatch):
    settings = Settings.from_env(
        storage.env
        | {"API_TOKENS": TOKEN, "READY_CACHE_SECONDS": "60", "UPLOAD_CONTAINER": "ready-share"}
    )
    readiness = StorageReadiness(settings, lambda: SwiftStore(settings.storage, timeout=TIMEOUT))
    readiness.start()
    assert readiness.prepared is not None
    readiness._checked_at = 0.0  # the cached answer is old: the next probe asks storage
    requests = record_storage_requests(monkeypatch, storage.port)
    pid = proxy_pid(storage)
    answers: list[str | None] = []

    def probe() -> threading.Thread:
        thread = threading.Thread(target=lambda: answers.append(readiness.check()))
        thread.start()
        return thread

    os.kill(pid, signal.SIGSTOP)
    try:
        probes = [probe()]
        # The first probe's storage request is out and waits TIMEOUT on the freeze: the next two
        # come while it does.
        wait_until(lambda: len(requests) == 1, message="the first probe never asked storage")
        probes += [probe(), probe()]
        for thread in probes:
            thread.join()
    finally:
        os.kill(pid, signal.SIGCONT)
    assert len(answers) == 3
    assert all(answer and "unreachable" in answer for answer in answers), answers
    # One storage request for all three, not one each in turn.
    assert len(requests) == 1, requests.sent
