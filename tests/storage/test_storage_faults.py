"""What no local server can show on demand: 5xx, timeouts, an expired token mid-call.

requests-mock stands in for Swift here; everything else runs against the real embedded Swift.
"""

from __future__ import annotations

import logging
import time

import pytest
import requests
import requests_mock as rm

from app.settings.service import Settings
from app.storage.interface import StorageError
from app.storage.preparation import derived_key, prepare
from app.storage.readiness import StorageReadiness
from app.storage.swift import SwiftStore

AUTH = "http://swift.test/auth/v1.0"
STORAGE = "http://swift.test/v1/AUTH_t"
# The least a Swift v1 service needs; each test adds what it is about.
MINIMAL = {"ST_AUTH": AUTH, "ST_USER": "t:admin", "ST_KEY": "s", "API_TOKENS": "x" * 16}
SETTINGS = Settings.from_env(
    {
        "ST_AUTH": AUTH,
        "ST_USER": "t:admin",
        "ST_KEY": "storage-secret",
        "API_TOKENS": "x" * 16,
        "CORS_ORIGINS": "https://a.example,https://b.example",
        "STORAGE_TIMEOUT": "1",
    }
)


def _tokens(*tokens: str) -> list[dict]:
    return [
        {"status_code": 200, "headers": {"X-Storage-Url": STORAGE, "X-Auth-Token": t}}
        for t in tokens
    ]


def header(request, name: str) -> str | None:
    """swiftclient sends header values as bytes."""
    value = request.headers.get(name)
    return value.decode() if isinstance(value, bytes) else value


@pytest.fixture
def store() -> SwiftStore:
    return SwiftStore(SETTINGS.storage, timeout=1)


def test_an_expired_token_is_renewed_once_and_the_call_retried(store, requests_mock):
    auth = requests_mock.get(AUTH, _tokens("tk-old", "tk-new"))
    head = requests_mock.head(
        f"{STORAGE}/uploads",
        [{"status_code": 401}, {"status_code": 204, "headers": {"X-Container-Object-Count": "0"}}],
    )
    store.authenticate()
    assert store.container_metadata("uploads") == {"x-container-object-count": "0"}
    assert auth.call_count == 2
    assert [r.headers["X-Auth-Token"] for r in head.request_history] == [b"tk-old", b"tk-new"]


def test_wrong_credentials_are_a_storage_error_without_secrets(store, requests_mock):
    requests_mock.get(AUTH, status_code=401)
    with pytest.raises(StorageError) as error:
        store.authenticate()
    assert str(error.value) == "authenticate: storage answered 401 Unauthorized"
    assert "storage-secret" not in str(error.value)


def test_a_5xx_is_a_storage_error(store, requests_mock, caplog):
    requests_mock.get(AUTH, _tokens("tk-secret-token"))
    requests_mock.head(STORAGE, status_code=503)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(StorageError, match="account HEAD: storage answered 503"):
        store.tempurl_keys()
    assert "tk-secret-token" not in caplog.text


@pytest.mark.parametrize(
    "exc", [requests.exceptions.ConnectTimeout, requests.exceptions.ConnectionError]
)
def test_timeouts_and_refused_connections_are_storage_errors(store, requests_mock, exc):
    requests_mock.get(AUTH, exc=exc)
    with pytest.raises(StorageError, match="authenticate: storage unreachable"):
        store.authenticate()


def _healthy_account(requests_mock: rm.Mocker, key: str | None = None, container: bool = False):
    requests_mock.get(AUTH, _tokens("tk"))
    requests_mock.get("http://swift.test/info", json={"swift": {"max_file_size": 5368709122}})
    headers = {"X-Account-Meta-Temp-Url-Key": key} if key else {}
    requests_mock.head(STORAGE, headers=headers, status_code=204)
    requests_mock.post(STORAGE, status_code=204)
    for name in ("uploads", "uploads_segments"):
        requests_mock.head(f"{STORAGE}/{name}", status_code=204 if container else 404)
        requests_mock.put(f"{STORAGE}/{name}", status_code=201)
        requests_mock.post(f"{STORAGE}/{name}", status_code=204)


def test_prepare_creates_the_container_with_space_separated_cors(store, requests_mock):
    _healthy_account(requests_mock, key="existing-key")
    signer = prepare(store, SETTINGS)
    assert signer.key == "existing-key"
    assert signer.storage_url == STORAGE
    put = next(r for r in requests_mock.request_history if r.method == "PUT")
    assert (
        header(put, "X-Container-Meta-Access-Control-Allow-Origin")
        == "https://a.example https://b.example"
    )
    assert header(put, "X-Container-Meta-Access-Control-Expose-Headers") == "etag"
    assert not [r for r in requests_mock.request_history if r.method == "POST"]


def test_prepare_sets_a_derived_key_when_the_account_has_none(store, requests_mock):
    requests_mock.get(AUTH, _tokens("tk"))
    expected = derived_key("storage-secret", STORAGE)
    requests_mock.head(
        STORAGE,
        [
            {"status_code": 204},
            {"status_code": 204, "headers": {"X-Account-Meta-Temp-Url-Key": expected}},
        ],
    )
    post = requests_mock.post(STORAGE, status_code=204)
    for name in ("uploads", "uploads_segments"):
        requests_mock.head(f"{STORAGE}/{name}", status_code=204)
        requests_mock.post(f"{STORAGE}/{name}", status_code=204)
    assert prepare(store, SETTINGS).key == expected
    assert header(post.last_request, "X-Account-Meta-Temp-URL-Key") == expected
    assert len(expected) == 64 and expected != derived_key("other-secret", STORAGE)


def test_prepare_adopts_a_key_another_process_stored_meanwhile(store, requests_mock):
    requests_mock.get(AUTH, _tokens("tk"))
    requests_mock.head(
        STORAGE,
        [
            {"status_code": 204},
            {"status_code": 204, "headers": {"X-Account-Meta-Temp-Url-Key": "theirs"}},
        ],
    )
    requests_mock.post(STORAGE, status_code=204)
    for name in ("uploads", "uploads_segments"):
        requests_mock.head(f"{STORAGE}/{name}", status_code=204)
        requests_mock.post(f"{STORAGE}/{name}", status_code=204)
    assert prepare(store, SETTINGS).key == "theirs"


def test_a_configured_key_is_set_and_the_old_one_kept_as_key_2(store, requests_mock):
    _healthy_account(requests_mock, key="old-key", container=True)
    settings = Settings.from_env(MINIMAL | {"TEMPURL_KEY": "n" * 32})
    assert prepare(store, settings).key == "n" * 32
    post = next(r for r in requests_mock.request_history if r.method == "POST" and r.url == STORAGE)
    assert header(post, "X-Account-Meta-Temp-URL-Key") == "n" * 32
    assert header(post, "X-Account-Meta-Temp-URL-Key-2") == "old-key"


def test_stale_cors_metadata_is_corrected_and_removed_when_no_origins(store, requests_mock):
    _healthy_account(requests_mock, key="k", container=True)
    stale = {"X-Container-Meta-Access-Control-Allow-Origin": "https://old.example"}
    requests_mock.head(f"{STORAGE}/uploads", status_code=204, headers=stale)
    settings = Settings.from_env(MINIMAL | {"CORS_ORIGINS": ""})
    prepare(store, settings)
    post = next(
        r
        for r in requests_mock.request_history
        if r.method == "POST" and r.url.endswith("/uploads")
    )
    assert header(post, "X-Remove-Container-Meta-Access-Control-Allow-Origin")
    assert header(post, "X-Container-Meta-Access-Control-Allow-Origin") is None
    assert header(post, "X-Container-Meta-Access-Control-Expose-Headers") == "etag"


def test_readiness_reports_a_storage_outage_then_heals(requests_mock):
    _healthy_account(requests_mock, key="k", container=True)
    settings = Settings.from_env(MINIMAL | {"READY_CACHE_SECONDS": "0"})
    state = StorageReadiness(settings, lambda: SwiftStore(settings.storage, timeout=1))
    state.start()
    assert state.check() is None
    requests_mock.head(f"{STORAGE}/uploads", status_code=503)
    assert state.check() == "container HEAD: storage answered 503 Service Unavailable"
    assert state.signer is not None  # signing goes on: it needs no storage call
    requests_mock.head(f"{STORAGE}/uploads", status_code=204)
    assert state.check() is None


def test_an_unexpected_error_does_not_end_the_background_retries(monkeypatch):
    settings = Settings.from_env(MINIMAL)
    monkeypatch.setattr("app.storage.readiness.RETRY_BACKOFF", (0.01,))
    attempts = []

    def flaky_store():
        attempts.append(1)
        if len(attempts) < 3:  # not a StorageError: something no one expected
            raise RuntimeError("boom with http://x/?token=secret")
        raise StorageError("authenticate: storage unreachable")

    state = StorageReadiness(settings, flaky_store)
    state.start()
    deadline = time.monotonic() + 5
    while len(attempts) < 4:
        assert time.monotonic() < deadline, "the retry thread stopped"
        time.sleep(0.01)
    assert state.signer is None and "secret" not in (state.problem or "")
