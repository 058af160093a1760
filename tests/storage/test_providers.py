"""Rackspace Cloud Files (identity v2.0) on a real Swift, and the providers' settings.

No local server can be Rackspace identity, so its answers come from requests-mock
(tests/support/rackspace.py). Its catalog points at an embedded Swift of this module and its token
is one that Swift issued: every storage call the store makes is real, and what it did is read back
from that Swift (headers, objects, the proxy's access log). Keystone v3 logins run against a real
Keystone in tests/storage/test_keystone_real.py; here are its settings (OS_* variables, OS_CLOUD)
and the one fault a real Keystone does not give on demand (a 503).
"""

from __future__ import annotations

import hashlib
import hmac
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
import yaml

from app import create_app
from app.settings.parsers import ConfigError
from app.settings.service import Settings
from app.settings.storage import KeystoneAuth, RackspaceAuth, SwiftV1Auth
from app.storage.factory import open_store
from app.storage.interface import StorageError
from app.storage.preparation import prepare
from app.storage.rackspace_identity import RackspaceIdentity, parse_access
from app.storage.swift import SwiftStore
from tests.support import rackspace
from tests.support.keystone import KEYSTONE, OS, keystone_env, service_env
from tests.support.swift_account import (
    PUBLIC_CLIENT,
    SERVICENET_CLIENT,
    SwiftAccount,
    identity_mocked,
    shown,
)

ST = {"ST_AUTH": "http://127.0.0.1:1/auth/v1.0", "ST_USER": "a:b", "ST_KEY": "k"}
API = {"Authorization": f"Bearer {rackspace.ENV['API_TOKENS']}"}


def settings(env: dict[str, str]) -> Settings:
    return Settings.from_env(rackspace.ENV | env)


def assert_valid_tempurl(url: str, method: str, key: str) -> None:
    """The signature is what Swift recomputes: HMAC over method, expiry and the raw path."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    expires = query["temp_url_expires"][0]
    body = f"{method}\n{expires}\n{unquote(parts.path)}".encode()
    assert query["temp_url_sig"] == [hmac.new(key.encode(), body, hashlib.sha256).hexdigest()]


@pytest.fixture(scope="module")
def provider_swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftAccount]:
    """A Swift of this module's own: the token tests restart it to revoke its tokens."""
    with SwiftAccount.started(tmp_path_factory.mktemp("provider-swift")) as account:
        yield account


@pytest.fixture
def swift(provider_swift: SwiftAccount) -> SwiftAccount:
    """The module's Swift, its access log read from the start of the test."""
    provider_swift.mark()
    return provider_swift


@pytest.fixture
def mock() -> Iterator:
    with identity_mocked() as mocker:
        yield mocker


# -- configuration ------------------------------------------------------------------------------
def test_loaders_prefer_swift_v1_then_rackspace_then_keystone():
    rax = {k: v for k, v in rackspace.ENV.items() if k.startswith("RACKSPACE")}
    assert isinstance(settings(ST | rax | OS).storage, SwiftV1Auth)
    # An OS_CLOUD of the shell does not take over either (no clouds.yaml is even read).
    assert isinstance(settings(ST | {"OS_CLOUD": "no-such-cloud"}).storage, SwiftV1Auth)
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
        ({"OS_USERNAME": ""}, r"^OS_USERNAME is not set \(or OS_USER_ID; needed with OS_AUTH"),
        (
            {"OS_IDENTITY_API_VERSION": "2.0"},
            "^OS_IDENTITY_API_VERSION is 2.0, but only Keystone v3 is supported: set it to 3",
        ),
        ({"OS_IDENTITY_API_VERSION": "2"}, "^OS_IDENTITY_API_VERSION is 2, but only Keystone v3"),
        ({"OS_IDENTITY_API_VERSION": "v3"}, "^OS_IDENTITY_API_VERSION must be 3, got 'v3'"),
        (
            {"OS_AUTH_TYPE": "token"},
            r"^OS_AUTH_TYPE is 'token', but only a password \(password, v3password\) or an "
            r"application credential \(v3applicationcredential, applicationcredential\) can",
        ),
        ({"OS_AUTH_TYPE": "v2password"}, "^OS_AUTH_TYPE is 'v2password', but only"),
        (
            {"OS_AUTH_TYPE": "v3applicationcredential"},
            r"^OS_APPLICATION_CREDENTIAL_ID is not set \(or OS_APPLICATION_CREDENTIAL_NAME with "
            r"OS_USER_ID or OS_USERNAME; needed with OS_AUTH_TYPE=applicationcredential\)",
        ),
    ],
)
def test_keystone_settings_errors_name_the_variable(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(service_env() | OS | env)


def test_an_application_credential_name_needs_its_user():
    env = {
        "OS_AUTH_URL": KEYSTONE,
        "OS_APPLICATION_CREDENTIAL_NAME": "upload-signer",
        "OS_APPLICATION_CREDENTIAL_SECRET": "app-cred-secret",
    }
    with pytest.raises(ConfigError, match=r"^OS_APPLICATION_CREDENTIAL_NAME needs its user"):
        Settings.from_env(service_env() | env)
    auth = Settings.from_env(service_env() | env | {"OS_USER_ID": "u1"}).storage
    assert auth.uses_application_credential and auth.user_id == "u1"


def test_pyrax_backend_needs_rackspace_credentials():
    with pytest.raises(ConfigError, match="STORAGE_BACKEND=pyrax"):
        Settings.from_env(service_env() | OS | {"STORAGE_BACKEND": "pyrax"})


def test_settings_pick_the_keystone_application_credential():
    env = {
        "OS_AUTH_URL": KEYSTONE,
        "OS_APPLICATION_CREDENTIAL_ID": "app-cred-id",
        "OS_APPLICATION_CREDENTIAL_SECRET": "app-cred-secret",
    }
    auth = Settings.from_env(service_env() | env).storage
    assert isinstance(auth, KeystoneAuth)
    assert auth.application_credential_id == "app-cred-id"
    assert auth.secret == "app-cred-secret"
    assert "app-cred-secret" not in repr(auth)
    # OS_AUTH_TYPE chooses between a password and an application credential given together.
    both = OS | env
    assert Settings.from_env(service_env() | both).storage.uses_application_credential
    for auth_type, credential in [
        ("v3password", False),
        ("Password", False),
        ("v3applicationcredential", True),
        ("application_credential", True),
    ]:
        chosen = Settings.from_env(service_env() | both | {"OS_AUTH_TYPE": auth_type}).storage
        assert chosen.uses_application_credential is credential, auth_type
        assert chosen.secret == ("app-cred-secret" if credential else OS["OS_PASSWORD"])


# -- Rackspace identity v2.0 + Cloud Files -----------------------------------------------------
def test_rackspace_start_up_signs_for_the_default_region(mock, swift):
    auth_calls = rackspace.mock_identity(mock, swift)
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
    assert swift.container_headers("uploads")["x-container-meta-access-control-allow-origin"] == (
        "https://app.example.com"
    )
    key = swift.tempurl_key()
    answer = app.test_client().post("/uploads", json={"filename": "a.txt"}, headers=API)
    assert answer.status_code == 201
    upload, download = answer.get_json()["upload_url"], answer.get_json()["download_url"]
    assert upload.startswith(swift.public_url + "/uploads_segments/")
    assert download.startswith(swift.public_url + "/uploads/")
    assert_valid_tempurl(upload, "PUT", key)
    assert_valid_tempurl(download, "GET", key)
    # Swift itself takes both signatures.
    headers = answer.get_json()["upload_headers"]
    assert requests.put(upload, data=b"via Cloud Files", headers=headers, timeout=30).ok
    upload_id = answer.get_json()["upload_id"]
    assert app.test_client().post(f"/uploads/{upload_id}/complete", headers=API).status_code == 200
    assert requests.get(download, timeout=30).content == b"via Cloud Files"
    # The store's own calls carried the token identity handed out, the public way.
    own = swift.token_calls()
    assert own and all(c.used(swift.token()) and c.client == PUBLIC_CLIENT for c in own)


def test_servicenet_calls_go_internal_while_browsers_get_public_urls(mock, swift):
    rackspace.mock_identity(mock, swift, region="LON")
    config = settings(
        {"RACKSPACE_REGION": "lon", "RACKSPACE_SERVICENET": "1", "UPLOAD_CONTAINER": "snet"}
    )
    signer = prepare(open_store(config), config)
    assert swift.container_headers("snet") is not None  # the service's own calls made it
    own = swift.token_calls()
    assert own and all(c.client == SERVICENET_CLIENT for c in own)  # ... through ServiceNet
    assert signer.storage_url == swift.public_url
    url = signer.sign("PUT", "obj", int(time.time()) + 60)
    assert url.startswith(swift.public_url + "/snet/obj?")
    swift.mark()
    assert requests.put(url, data=b"x", timeout=30).status_code == 201
    assert [(c.client, c.method) for c in swift.calls()] == [(PUBLIC_CLIENT, "PUT")]


def test_an_unknown_region_lists_the_regions_the_catalog_has(mock):
    rackspace.mock_identity(mock, None, {"regions": ("DFW", "LON")})
    store = open_store(settings({"RACKSPACE_REGION": "XYZ"}))
    with pytest.raises(StorageError) as error:
        store.authenticate()
    assert (
        str(error.value) == "Cloud Files has no endpoint in region XYZ; the catalog has: DFW, LON"
    )


def test_a_catalog_without_cloud_files_says_so(mock):
    rackspace.mock_identity(mock, None, {"cloud_files": False})
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
    mock.post(f"{rackspace.IDENTITY}/tokens", exc=requests.ConnectTimeout)
    with pytest.raises(StorageError, match=r"identity unreachable at https://identity\.api"):
        open_store(settings({})).authenticate()


def test_the_token_is_renewed_before_it_expires(mock, swift):
    now = [1_000_000.0]
    auth = settings({"RACKSPACE_REGION": "DFW"}).storage
    calls = rackspace.mock_identity(
        mock, swift, {"expires": now[0] + 3600}, {"expires": now[0] + 7200}, region="DFW"
    )
    store = SwiftStore(auth, identity=RackspaceIdentity(auth, clock=lambda: now[0]))
    first = swift.token()
    store.tempurl_keys()
    now[0] += 3000  # still 600 s left: the token is reused
    store.tempurl_keys()
    assert calls.call_count == 1
    swift.revoke_tokens()  # from here on Swift takes only the token identity hands out next
    now[0] += 400  # 200 s left, inside the margin: a new token before the old one lapses
    store.tempurl_keys()
    assert calls.call_count == 2
    second = swift.token()
    assert second != first
    # No 401 on the way: the old token was not tried once more.
    assert [(c.token, c.outcome) for c in swift.token_calls()] == [
        (shown(first), "2xx"),
        (shown(first), "2xx"),
        (shown(second), "2xx"),
    ]


def test_a_revoked_token_is_replaced_after_a_401(mock, swift):
    calls = rackspace.mock_identity(mock, swift)
    store = open_store(settings({}))
    first = swift.token()
    store.tempurl_keys()
    swift.revoke_tokens()  # revoked on the storage side
    second = swift.token()
    assert store.tempurl_keys() == swift.tempurl_keys()
    assert calls.call_count == 2
    assert [(c.token, c.outcome) for c in swift.token_calls()] == [
        (shown(first), "2xx"),
        (shown(first), "401"),
        (shown(second), "2xx"),
    ]


def test_storage_5xx_is_a_storage_error_without_the_token(mock):
    rackspace.mock_identity(mock, None, {"token": "tok-secret-1"})
    mock.head(rackspace.public_url("ORD"), status_code=503, reason="Service Unavailable")
    with pytest.raises(StorageError) as error:
        open_store(settings({})).tempurl_keys()
    assert str(error.value) == "account HEAD: storage answered 503 Service Unavailable"


# -- Keystone v3 ---------------------------------------------------------------------------------
# Logins, catalogs, revoked and short-lived tokens: tests/storage/test_keystone_real.py, on a real
# Keystone. Here: what a real Keystone does not do on demand, and the reading of clouds.yaml.
def test_keystone_5xx_is_one_line(mock):
    mock.post(f"{KEYSTONE}/auth/tokens", status_code=503)
    with pytest.raises(StorageError, match=r"^Keystone answered 503; try again later$"):
        open_store(Settings.from_env(keystone_env())).authenticate()


def write_clouds(path: Path, clouds: dict) -> dict[str, str]:
    path.write_text(yaml.safe_dump({"clouds": clouds}))
    return {"OS_CLIENT_CONFIG_FILE": str(path)}


def test_os_cloud_fills_the_os_variables(tmp_path):
    env = write_clouds(
        tmp_path / "clouds.yaml",
        {
            "mine": {
                "auth_type": "v3password",
                "auth": {
                    "auth_url": "https://keystone.example:5000",
                    "username": "alice",
                    "password": "s3cret-password",
                    "project_name": "uploads-project",
                    # One domain for both, as clouds.yaml allows.
                    "domain_name": "uploads-domain",
                },
                "region_name": "RegionTwo",
                "interface": "internal",
                "cacert": "/etc/ssl/private-ca.pem",
                "identity_api_version": 3,
            }
        },
    )
    auth = Settings.from_env(service_env() | env | {"OS_CLOUD": "mine"}).storage
    assert isinstance(auth, KeystoneAuth)
    assert (auth.auth_url, auth.username, auth.secret, auth.project_name) == (
        "https://keystone.example:5000",
        "alice",
        "s3cret-password",
        "uploads-project",
    )
    assert (auth.user_domain_name, auth.project_domain_name) == ("uploads-domain",) * 2
    assert (auth.region_name, auth.interface, auth.cacert) == (
        "RegionTwo",
        "internal",
        "/etc/ssl/private-ca.pem",
    )
    assert (auth.auth_type, auth.identity_api_version, auth.cloud) == ("password", "3", "mine")
    assert "s3cret-password" not in repr(auth)
    # Variables that are set win, and the cloud's v2 would be refused like OS_* is.
    explicit = {"OS_CLOUD": "mine", "OS_REGION_NAME": "RegionOne", "OS_PROJECT_ID": "p1"}
    auth = Settings.from_env(service_env() | env | explicit).storage
    assert (auth.region_name, auth.project_id, auth.project_name) == ("RegionOne", "p1", None)


def test_an_unknown_cloud_names_os_cloud_and_the_file(tmp_path):
    env = write_clouds(tmp_path / "clouds.yaml", {"one": {}, "two": {}})
    with pytest.raises(ConfigError) as error:
        Settings.from_env(service_env() | env | {"OS_CLOUD": "three"})
    assert str(error.value) == (
        f"OS_CLOUD=three: no such cloud in {tmp_path / 'clouds.yaml'} (it has: one, two); set "
        "OS_CLOUD to one of them, or OS_CLIENT_CONFIG_FILE to the file that has it"
    )


def test_no_clouds_yaml_lists_where_it_was_searched(tmp_path, monkeypatch):
    from openstack.config import loader

    folders = [tmp_path / "here", tmp_path / "etc"]
    files = [str(folder / f"clouds.{suffix}") for folder in folders for suffix in ("yaml", "yml")]
    monkeypatch.setattr(loader, "CONFIG_FILES", files)
    monkeypatch.setattr(loader, "SECURE_FILES", [])
    with pytest.raises(ConfigError) as error:
        Settings.from_env(service_env() | {"OS_CLOUD": "mine"})
    assert str(error.value) == (
        "OS_CLOUD=mine: no clouds.yaml found; searched clouds.yaml, clouds.yml and clouds.json "
        f"in {folders[0]}, {folders[1]} (OS_CLIENT_CONFIG_FILE names another file)"
    )
    missing = {"OS_CLOUD": "mine", "OS_CLIENT_CONFIG_FILE": str(tmp_path / "nowhere.yaml")}
    with pytest.raises(ConfigError, match=r"^OS_CLIENT_CONFIG_FILE is '.*nowhere.yaml', which"):
        Settings.from_env(service_env() | missing)


def test_os_cloud_without_openstacksdk_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "openstack", None)  # as if not installed
    with pytest.raises(ConfigError) as error:
        Settings.from_env(service_env() | {"OS_CLOUD": "mine"})
    assert str(error.value) == (
        "OS_CLOUD is set but openstacksdk is not installed: pip install 'upload-signer[clouds]'"
    )
