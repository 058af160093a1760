"""Rackspace Cloud Files (identity v2.0) and Keystone v3, against requests-mock.

No local server can be Rackspace identity or a Keystone catalog, so these use requests-mock with
answers shaped like the real ones (tests/rackspace.py) and a small stateful Swift account
(tests/fake_swift.py). The Swift v1 path is proven against the real embedded Swift elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests_mock

from app import create_app
from app.settings.parsers import ConfigError
from app.settings.service import Settings
from app.settings.storage import KeystoneAuth, RackspaceAuth, SwiftV1Auth
from app.storage.factory import open_store
from app.storage.interface import StorageError
from app.storage.rackspace_identity import RackspaceIdentity, parse_access
from app.storage.swift import SwiftStore
from app.web.runtime import Runtime
from tests.support import rackspace
from tests.support.fake_swift import FakeSwiftAccount

ST = {"ST_AUTH": "http://127.0.0.1:1/auth/v1.0", "ST_USER": "a:b", "ST_KEY": "k"}
OS = {
    "OS_AUTH_URL": "https://keystone.example/v3",
    "OS_USERNAME": "alice",
    "OS_PASSWORD": "s3cret-password",
    "OS_PROJECT_NAME": "uploads-project",
    "OS_USER_DOMAIN_NAME": "Default",
    "OS_PROJECT_DOMAIN_NAME": "Default",
    "OS_REGION_NAME": "RegionTwo",
}


def settings(env: dict[str, str]) -> Settings:
    return Settings.from_env(rackspace.ENV | env)


def assert_valid_tempurl(url: str, method: str, key: str) -> None:
    """The signature is what Swift recomputes: HMAC over method, expiry and the raw path."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    expires = query["temp_url_expires"][0]
    body = f"{method}\n{expires}\n{unquote(parts.path)}".encode()
    assert query["temp_url_sig"] == [hmac.new(key.encode(), body, hashlib.sha256).hexdigest()]


# -- configuration ------------------------------------------------------------------------------
def test_loaders_prefer_swift_v1_then_rackspace_then_keystone():
    rax = {k: v for k, v in rackspace.ENV.items() if k.startswith("RACKSPACE")}
    assert isinstance(settings(ST | rax | OS).storage, SwiftV1Auth)
    assert isinstance(Settings.from_env(keystone_env()).storage, KeystoneAuth)
    auth = Settings.from_env(rackspace.ENV | OS).storage
    assert isinstance(auth, RackspaceAuth)
    assert auth.region is None and auth.servicenet is False
    assert auth.identity_url == rackspace.IDENTITY
    assert "0123456789abcdef" not in repr(auth)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RACKSPACE_API_KEY": ""}, "RACKSPACE_API_KEY is not set"),
        ({"RACKSPACE_SERVICENET": "maybe"}, "RACKSPACE_SERVICENET must be 1 or 0"),
        ({"RACKSPACE_IDENTITY_URL": "identity.local"}, "RACKSPACE_IDENTITY_URL must be an http"),
        ({"STORAGE_BACKEND": "boto"}, "STORAGE_BACKEND must be one of swiftclient, pyrax"),
    ],
)
def test_rackspace_settings_errors_name_the_variable(env, message):
    with pytest.raises(ConfigError, match=message):
        settings(env)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OS_AUTH_URL": ""}, "OS_AUTH_URL is not set"),
        ({"OS_PROJECT_NAME": ""}, "OS_PROJECT_NAME is not set"),
        ({"OS_PASSWORD": ""}, "OS_PASSWORD is not set"),
        ({"OS_AUTH_URL": "https://keystone.example/v2.0"}, "Keystone v2.0"),
        ({"OS_APPLICATION_CREDENTIAL_ID": "abc"}, "OS_APPLICATION_CREDENTIAL_SECRET is not set"),
    ],
)
def test_keystone_settings_errors_name_the_variable(env, message):
    base = {k: v for k, v in rackspace.ENV.items() if not k.startswith("RACKSPACE")}
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(base | OS | env)


def test_pyrax_backend_needs_rackspace_credentials():
    base = {k: v for k, v in rackspace.ENV.items() if not k.startswith("RACKSPACE")}
    with pytest.raises(ConfigError, match="STORAGE_BACKEND=pyrax"):
        Settings.from_env(base | OS | {"STORAGE_BACKEND": "pyrax"})


def test_settings_pick_the_keystone_application_credential():
    base = {k: v for k, v in rackspace.ENV.items() if not k.startswith("RACKSPACE")}
    env = {
        "OS_AUTH_URL": "https://keystone.example/v3",
        "OS_APPLICATION_CREDENTIAL_ID": "app-cred-id",
        "OS_APPLICATION_CREDENTIAL_SECRET": "app-cred-secret",
    }
    auth = Settings.from_env(base | env).storage
    assert isinstance(auth, KeystoneAuth)
    assert auth.application_credential_id == "app-cred-id"
    assert auth.secret == "app-cred-secret"
    assert "app-cred-secret" not in repr(auth)


# -- Rackspace identity v2.0 + Cloud Files -----------------------------------------------------
@pytest.fixture
def mock():
    with requests_mock.Mocker() as mocker:
        yield mocker


def identity(mock, *answers: dict) -> requests_mock.adapter._Matcher:
    return mock.post(
        f"{rackspace.IDENTITY}/tokens", [{"json": a, "status_code": 200} for a in answers]
    )


def test_rackspace_start_up_signs_for_the_default_region(mock):
    auth_calls = identity(mock, rackspace.token_answer())
    files = FakeSwiftAccount(mock, rackspace.public_url("ORD"), {"tok-1"})
    app = create_app(rackspace.ENV)
    assert app.test_client().get("/readyz").status_code == 200
    body = auth_calls.request_history[0].json()
    assert body == {
        "auth": {
            "RAX-KSKEY:apiKeyCredentials": {
                "username": "alice",
                "apiKey": "0123456789abcdef0123456789abcdef",
            }
        }
    }
    assert files.containers["uploads"]["x-container-meta-access-control-allow-origin"] == (
        "https://app.example.com"
    )
    key = files.account["x-account-meta-temp-url-key"]
    answer = app.test_client().post(
        "/uploads",
        json={"filename": "a.txt"},
        headers={"Authorization": f"Bearer {rackspace.ENV['API_TOKENS']}"},
    )
    assert answer.status_code == 201
    upload = answer.get_json()["upload_url"]
    assert upload.startswith(rackspace.public_url("ORD") + "/uploads/")
    assert_valid_tempurl(upload, "PUT", key)
    assert_valid_tempurl(answer.get_json()["download_url"], "GET", key)


def test_servicenet_calls_go_internal_while_browsers_get_public_urls(mock):
    identity(mock, rackspace.token_answer())
    internal = FakeSwiftAccount(mock, rackspace.internal_url("LON"), {"tok-1"})
    store = open_store(settings({"RACKSPACE_REGION": "lon", "RACKSPACE_SERVICENET": "1"}))
    from app.storage.preparation import prepare

    signer = prepare(store, settings({"RACKSPACE_REGION": "lon", "RACKSPACE_SERVICENET": "1"}))
    assert "uploads" in internal.containers  # the service's own calls used ServiceNet
    assert all("snet-" in r.url for r in mock.request_history if "clouddrive" in r.url)
    assert signer.storage_url == rackspace.public_url("LON")
    assert signer.sign("PUT", "obj", int(time.time()) + 60).startswith(
        rackspace.public_url("LON") + "/uploads/obj?"
    )


def test_an_unknown_region_lists_the_regions_the_catalog_has(mock):
    identity(mock, rackspace.token_answer(regions=("DFW", "LON")))
    store = open_store(settings({"RACKSPACE_REGION": "XYZ"}))
    with pytest.raises(StorageError) as error:
        store.authenticate()
    assert (
        str(error.value) == "Cloud Files has no endpoint in region XYZ; the catalog has: DFW, LON"
    )


def test_a_catalog_without_cloud_files_says_so(mock):
    identity(mock, rackspace.token_answer(cloud_files=False))
    with pytest.raises(StorageError, match="catalog has no Cloud Files"):
        open_store(settings({})).authenticate()


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (401, "Rackspace identity refused the credentials (401): check RACKSPACE_USERNAME"),
        (503, "Rackspace identity answered 503 Service Unavailable; try again later"),
        (404, "Rackspace identity answered 404 Not Found; check RACKSPACE_IDENTITY_URL"),
    ],
)
def test_identity_failures_are_one_clear_line_without_the_key(mock, status, message):
    reasons = {401: "Unauthorized", 503: "Service Unavailable", 404: "Not Found"}
    mock.post(
        f"{rackspace.IDENTITY}/tokens",
        status_code=status,
        reason=reasons[status],
        json={"unauthorized": {"code": status, "message": "Username or api key is invalid."}},
    )
    with pytest.raises(StorageError) as error:
        open_store(settings({})).authenticate()
    text = str(error.value)
    assert text.startswith(message)
    assert "\n" not in text and rackspace.ENV["RACKSPACE_API_KEY"] not in text


def test_identity_expiry_with_a_utc_offset_and_a_region_in_lower_case():
    answer = rackspace.token_answer()
    answer["access"]["token"]["expires"] = "2014-01-09T16:07:42.000-06:00"
    answer["access"]["serviceCatalog"][-1]["endpoints"][0]["region"] = "dfw"
    access = parse_access(answer)
    assert access.expires == datetime(2014, 1, 9, 22, 7, 42, tzinfo=UTC).timestamp()
    assert access.endpoints["DFW"]["publicURL"] == rackspace.public_url("DFW")
    assert access.default_region == "ORD" and access.token == "tok-1"


def test_identity_unreachable_names_the_url(mock):
    import requests

    mock.post(f"{rackspace.IDENTITY}/tokens", exc=requests.ConnectTimeout)
    with pytest.raises(StorageError, match=r"identity unreachable at https://identity\.api"):
        open_store(settings({})).authenticate()


def test_the_token_is_renewed_before_it_expires(mock):
    now = [1_000_000.0]
    auth = settings({"RACKSPACE_REGION": "DFW"}).storage
    calls = identity(
        mock,
        rackspace.token_answer("tok-1", expires=now[0] + 3600),
        rackspace.token_answer("tok-2", expires=now[0] + 7200),
    )
    files = FakeSwiftAccount(mock, rackspace.public_url("DFW"), {"tok-1", "tok-2"})
    store = SwiftStore(auth, identity=RackspaceIdentity(auth, clock=lambda: now[0]))
    store.tempurl_keys()
    now[0] += 3000  # still 600 s left: the token is reused
    store.tempurl_keys()
    assert calls.call_count == 1
    now[0] += 400  # 200 s left, inside the margin: a new token before the old one lapses
    store.tempurl_keys()
    assert calls.call_count == 2
    assert files.seen_tokens == ["tok-1", "tok-1", "tok-2"]


def test_a_revoked_token_is_replaced_after_a_401(mock):
    calls = identity(mock, rackspace.token_answer("tok-1"), rackspace.token_answer("tok-2"))
    files = FakeSwiftAccount(mock, rackspace.public_url("ORD"), {"tok-1"})
    store = open_store(settings({}))
    store.tempurl_keys()
    files.tokens = {"tok-2"}  # tok-1 revoked on the storage side
    assert store.tempurl_keys() == (None, None)
    assert calls.call_count == 2
    assert files.seen_tokens == ["tok-1", "tok-1", "tok-2"]


def test_storage_5xx_is_a_storage_error_without_the_token(mock):
    identity(mock, rackspace.token_answer("tok-secret-1"))
    mock.head(rackspace.public_url("ORD"), status_code=503, reason="Service Unavailable")
    with pytest.raises(StorageError) as error:
        open_store(settings({})).tempurl_keys()
    assert str(error.value) == "account HEAD: storage answered 503 Service Unavailable"


# -- Keystone v3 through python-swiftclient ------------------------------------------------------
KEYSTONE = "https://keystone.example/v3"
SWIFT_PUBLIC = "https://swift-two.example/v1/AUTH_p1"


def keystone_token(methods: list[str], expires_at: str = "2100-01-01T00:00:00.000000Z") -> dict:
    catalog = [
        {
            "type": "object-store",
            "name": "swift",
            "endpoints": [
                {"interface": i, "region": r, "region_id": r, "url": u}
                for i, r, u in (
                    ("public", "RegionOne", "https://swift-one.example/v1/AUTH_p1"),
                    ("internal", "RegionOne", "http://10.0.0.1:8080/v1/AUTH_p1"),
                    ("public", "RegionTwo", SWIFT_PUBLIC),
                    ("internal", "RegionTwo", "http://10.0.1.1:8080/v1/AUTH_p1"),
                )
            ],
        },
        {"type": "identity", "name": "keystone", "endpoints": []},
    ]
    return {
        "token": {
            "methods": methods,
            "expires_at": expires_at,
            "issued_at": "2026-01-01T00:00:00.000000Z",
            "user": {"id": "u1", "name": "alice", "domain": {"id": "default", "name": "Default"}},
            "project": {
                "id": "p1",
                "name": "uploads-project",
                "domain": {"id": "default", "name": "Default"},
            },
            "roles": [{"id": "r1", "name": "member"}],
            "catalog": catalog,
        }
    }


def keystone_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    base = {k: v for k, v in rackspace.ENV.items() if not k.startswith("RACKSPACE")}
    return base | OS | (extra or {})


def test_keystone_password_start_up_signs_for_the_region_public_endpoint(mock):
    tokens = mock.post(
        f"{KEYSTONE}/auth/tokens",
        status_code=201,
        json=keystone_token(["password"]),
        headers={"X-Subject-Token": "ks-token"},
    )
    files = FakeSwiftAccount(mock, SWIFT_PUBLIC, {"ks-token"})
    app = create_app(keystone_env())
    assert app.test_client().get("/readyz").status_code == 200
    request = tokens.request_history[0].json()["auth"]
    assert request["identity"]["password"]["user"] == {
        "name": "alice",
        "password": "s3cret-password",
        "domain": {"name": "Default"},
    }
    assert request["scope"] == {
        "project": {"name": "uploads-project", "domain": {"name": "Default"}}
    }
    state = Runtime.of(app).storage
    assert state.signer.storage_url == SWIFT_PUBLIC
    assert_valid_tempurl(
        state.signer.sign("PUT", "o", int(time.time()) + 60),
        "PUT",
        files.account["x-account-meta-temp-url-key"],
    )


def test_keystone_application_credentials(mock):
    tokens = mock.post(
        f"{KEYSTONE}/auth/tokens",
        status_code=201,
        json=keystone_token(["application_credential"]),
        headers={"X-Subject-Token": "ks-app-token"},
    )
    FakeSwiftAccount(mock, SWIFT_PUBLIC, {"ks-app-token"})
    env = {
        "OS_AUTH_URL": KEYSTONE,
        "OS_APPLICATION_CREDENTIAL_ID": "cred-id",
        "OS_APPLICATION_CREDENTIAL_SECRET": "cred-secret",
        "OS_REGION_NAME": "RegionTwo",
    }
    base = {k: v for k, v in rackspace.ENV.items() if not k.startswith("RACKSPACE")}
    store = open_store(Settings.from_env(base | env))
    store.authenticate()
    assert store.public_url == SWIFT_PUBLIC
    identity_ = tokens.request_history[0].json()["auth"]["identity"]
    assert identity_["application_credential"] == {"id": "cred-id", "secret": "cred-secret"}


def test_keystone_refusal_is_one_line(mock):
    mock.post(
        f"{KEYSTONE}/auth/tokens",
        status_code=401,
        json={
            "error": {
                "code": 401,
                "title": "Unauthorized",
                "message": "The request you have made requires authentication.",
            }
        },
    )
    with pytest.raises(StorageError) as error:
        open_store(Settings.from_env(keystone_env())).authenticate()
    assert str(error.value) == (
        "Keystone refused the credentials (401): check OS_USERNAME, OS_PASSWORD, "
        "OS_PROJECT_NAME and the domains"
    )


def test_keystone_region_without_swift(mock):
    mock.post(
        f"{KEYSTONE}/auth/tokens",
        status_code=201,
        json=keystone_token(["password"]),
        headers={"X-Subject-Token": "ks-token"},
    )
    store = open_store(Settings.from_env(keystone_env({"OS_REGION_NAME": "RegionNine"})))
    with pytest.raises(StorageError) as error:
        store.authenticate()
    assert str(error.value) == (
        "Keystone's catalog has no public object-store endpoint in region RegionNine; "
        "it has: RegionOne, RegionTwo"
    )


def test_keystone_token_is_renewed_after_a_storage_401(mock):
    tokens = mock.post(
        f"{KEYSTONE}/auth/tokens",
        [
            {"status_code": 201, "json": keystone_token(["password"]), "headers": h}
            for h in ({"X-Subject-Token": "ks-1"}, {"X-Subject-Token": "ks-2"})
        ],
    )
    files = FakeSwiftAccount(mock, SWIFT_PUBLIC, {"ks-1"})
    store = open_store(Settings.from_env(keystone_env()))
    store.tempurl_keys()
    files.tokens = {"ks-2"}
    store.tempurl_keys()
    assert tokens.call_count == 2
    assert files.seen_tokens == ["ks-1", "ks-1", "ks-2"]


def test_keystone_5xx_and_unreachable(mock):
    import requests

    mock.post(f"{KEYSTONE}/auth/tokens", status_code=503)
    with pytest.raises(StorageError, match=r"^Keystone answered 503; try again later$"):
        open_store(Settings.from_env(keystone_env())).authenticate()
    mock.post(f"{KEYSTONE}/auth/tokens", exc=requests.ConnectionError)
    with pytest.raises(
        StorageError, match=r"^Keystone unreachable at https://keystone\.example/v3"
    ):
        open_store(Settings.from_env(keystone_env())).authenticate()


def test_keystone_token_is_renewed_before_it_expires(mock):
    soon = datetime.fromtimestamp(time.time() + 120, UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    tokens = mock.post(
        f"{KEYSTONE}/auth/tokens",
        [
            {
                "status_code": 201,
                "json": keystone_token(["password"], soon),
                "headers": {"X-Subject-Token": "ks-1"},
            },
            {
                "status_code": 201,
                "json": keystone_token(["password"]),
                "headers": {"X-Subject-Token": "ks-2"},
            },
        ],
    )
    files = FakeSwiftAccount(mock, SWIFT_PUBLIC, {"ks-1", "ks-2"})
    store = open_store(Settings.from_env(keystone_env()))
    store.authenticate()  # ks-1 expires in 2 minutes, inside the 5-minute margin: renewed
    store.tempurl_keys()
    store.tempurl_keys()
    assert tokens.call_count == 2
    assert files.seen_tokens == ["ks-2", "ks-2"]
