"""The deadline of a storage call and the circuit breaker, against a real Swift that is frozen."""

from __future__ import annotations

import os
import signal
import threading
import time
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


def timed(call) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        call()
    except StorageError as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


def test_a_call_to_a_frozen_store_ends_after_one_timeout_not_one_per_retry(storage):
    store = store_of(storage)
    pid = proxy_pid(storage)
    os.kill(pid, signal.SIGSTOP)
    try:
        elapsed, error = timed(lambda: store.head_object("uploads", "x"))
    finally:
        os.kill(pid, signal.SIGCONT)
    assert isinstance(error, StorageError)
    assert "unreachable" in str(error)
    # One attempt of TIMEOUT; a retry would take another TIMEOUT (and its backoff).
    assert elapsed < 1.5 * TIMEOUT


def test_after_consecutive_timeouts_calls_fail_fast_then_one_probe_heals(storage):
    breaker = CircuitBreaker(threshold=2, cooldown=1.0)
    store = store_of(storage, breaker)
    pid = proxy_pid(storage)
    os.kill(pid, signal.SIGSTOP)
    try:
        for _ in range(2):
            assert isinstance(timed(lambda: store.container_metadata("x"))[1], StorageError)
        assert breaker.state == "open"
        for _ in range(5):
            elapsed, error = timed(lambda: store.container_metadata("x"))
            assert isinstance(error, StorageUnavailable)
            assert elapsed < 0.1
        while breaker.state == "open":  # the cool-down
            time.sleep(0.05)
        # Half-open: one probe goes to storage (and waits for it), the others still fail fast.
        probe = threading.Thread(target=lambda: timed(lambda: store.container_metadata("x")))
        probe.start()
        while breaker.state != "open":
            time.sleep(0.01)
        elapsed, error = timed(lambda: store.container_metadata("x"))
        assert isinstance(error, StorageUnavailable)
        assert elapsed < 0.1
        probe.join()
    finally:
        os.kill(pid, signal.SIGCONT)
    while breaker.state == "open":
        time.sleep(0.05)
    assert store.container_metadata("nonexistent") is None  # the probe reaches storage again
    assert breaker.state == "closed"


def test_readiness_and_requests_answer_503_fast_while_the_breaker_is_open(storage, frozen):
    env = storage.env | {
        "API_TOKENS": TOKEN,
        "STORAGE_TIMEOUT": "0.5",
        "READY_CACHE_SECONDS": "0",
        "UPLOAD_CONTAINER": "breaker",
    }
    os.kill(frozen, signal.SIGCONT)
    client = create_app(env).test_client()
    assert client.get("/readyz").status_code == 200
    os.kill(frozen, signal.SIGSTOP)
    for _ in range(3):  # the breaker's threshold of consecutive timeouts
        assert_503_with_retry_after(client.get("/readyz"))
    started = time.monotonic()
    assert_503_with_retry_after(client.get("/readyz"))
    assert "unavailable" in client.get("/readyz").get_json()["detail"]
    assert time.monotonic() - started < 0.4  # two answers, neither waited 0.5 s for storage
    os.kill(frozen, signal.SIGCONT)
    deadline = time.monotonic() + 30
    while client.get("/readyz").status_code != 200:  # the probe after the cool-down heals it
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_readiness_probes_waiting_behind_a_slow_one_share_its_answer(storage):
    settings = Settings.from_env(
        storage.env
        | {"API_TOKENS": TOKEN, "READY_CACHE_SECONDS": "60", "UPLOAD_CONTAINER": "ready-share"}
    )
    readiness = StorageReadiness(settings, lambda: SwiftStore(settings.storage, timeout=TIMEOUT))
    readiness.start()
    assert readiness.prepared is not None
    readiness._checked_at = 0.0  # the cached answer is old: the next probe asks storage
    pid = proxy_pid(storage)
    answers: list[str | None] = []
    probes = [threading.Thread(target=lambda: answers.append(readiness.check())) for _ in range(3)]
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        for probe in probes:
            probe.start()
        for probe in probes:
            probe.join()
        elapsed = time.monotonic() - started
    finally:
        os.kill(pid, signal.SIGCONT)
    assert len(answers) == 3
    assert all(answer and "unreachable" in answer for answer in answers), answers
    # One storage timeout for all three, not one each in turn.
    assert elapsed < 1.5 * TIMEOUT, elapsed
