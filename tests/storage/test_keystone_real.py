"""Keystone v3 for real: PyPI ``keystone`` under gunicorn, and an embedded Swift that takes its
tokens (keystonemiddleware ``authtoken`` + ``keystoneauth``), as an OpenStack cloud has them.

The user lives in a domain of its own, so the domain settings matter. Token requests are counted
from Keystone's access log. One cloud serves the module (tests/support/keystone_server.py); the
short-lifetime tests use a second Keystone process on the same database. Swift asks Keystone
about every token, so a token revoked in Keystone is refused at once.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from app import create_app
from app.embedded.node import free_port
from app.settings.service import Settings
from app.storage.factory import open_store
from app.storage.interface import REAUTH_MARGIN, StorageError, reauth_margin
from app.web.runtime import Runtime
from tests.support.keystone import service_env
from tests.support.keystone_server import (
    DOMAIN,
    PROJECT,
    REGION,
    USER,
    Cloud,
    KeystoneServer,
    keystone_cloud,
)

# Seconds a token of the short-lifetime Keystone lives: well under REAUTH_MARGIN.
SHORT_LIFETIME = 12


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with keystone_cloud(tmp_path_factory.mktemp("keystone-cloud")) as started:
        yield started


@pytest.fixture(scope="module")
def short_lived(cloud: Cloud) -> Iterator[KeystoneServer]:
    """Keystone again, on the same database, issuing tokens that live SHORT_LIFETIME seconds."""
    with cloud.keystone.sibling(expiration=SHORT_LIFETIME) as keystone:
        yield keystone


API = {"Authorization": f"Bearer {service_env()['API_TOKENS']}"}
ORIGIN = service_env()["CORS_ORIGINS"]
MIB = 1024 * 1024


def store_for(env: dict[str, str]):
    return open_store(Settings.from_env(service_env() | env))


def service_token(app) -> str:
    """The Keystone token the service's storage calls carry now."""
    return Runtime.of(app).storage.store._identity._plugin.auth_ref.auth_token


def login_methods(store) -> list[str]:
    """How Keystone says the store logged in: ``password`` or ``application_credential``."""
    return store._identity._plugin.auth_ref._data["token"]["methods"]


def sign_and_put(cloud: Cloud, env: dict[str, str], container: str) -> None:
    """The service starts, signs a PUT for the user's Swift account, and Swift accepts it."""
    app = create_app(service_env() | env | {"UPLOAD_CONTAINER": container})
    assert app.test_client().get("/readyz").status_code == 200
    signer = Runtime.of(app).storage.signer
    assert signer.storage_url == cloud.storage_url
    url = signer.sign("PUT", "hello.txt", int(time.time()) + 60)
    assert requests.put(url, data=b"via a real Keystone", timeout=30).status_code == 201
    listing = requests.get(
        f"{cloud.storage_url}/{container}",
        headers={"X-Auth-Token": cloud.user_token()},
        timeout=30,
    )
    assert listing.text.split() == ["hello.txt"]


def test_password_login_with_domain_ids_signs_a_tempurl_swift_accepts(cloud: Cloud):
    sign_and_put(cloud, cloud.password_env(), "password")


def test_application_credential_signs_a_tempurl_swift_accepts(cloud: Cloud):
    sign_and_put(cloud, cloud.application_credential_env(), "app-credential")


@pytest.mark.parametrize(
    "domains",
    [
        lambda c: {"OS_USER_DOMAIN_NAME": DOMAIN, "OS_PROJECT_DOMAIN_NAME": DOMAIN},
        # An ID wins over a name (openrc files may carry both, the name often "Default").
        lambda c: {
            "OS_USER_DOMAIN_NAME": "Default",
            "OS_PROJECT_DOMAIN_NAME": "Default",
            "OS_USER_DOMAIN_ID": c.domain_id,
            "OS_PROJECT_DOMAIN_ID": c.domain_id,
        },
        # A project ID needs no project domain; the user's domain by ID.
        lambda c: {
            "OS_PROJECT_NAME": None,
            "OS_PROJECT_ID": c.project_id,
            "OS_USER_DOMAIN_ID": c.domain_id,
        },
    ],
    ids=["names", "ids-over-default-names", "project-id"],
)
def test_the_user_of_another_domain_logs_in(cloud: Cloud, domains):
    env = cloud.password_env()
    del env["OS_USER_DOMAIN_ID"], env["OS_PROJECT_DOMAIN_ID"]
    env |= domains(cloud)
    store = store_for({k: v for k, v in env.items() if v is not None})
    store.authenticate()
    assert store.public_url == cloud.storage_url
    assert store.tempurl_keys() is not None  # the token works on Swift


def test_the_default_domain_does_not_find_the_user(cloud: Cloud):
    env = cloud.password_env()
    del env["OS_USER_DOMAIN_ID"], env["OS_PROJECT_DOMAIN_ID"]
    with pytest.raises(StorageError) as error:
        store_for(env).authenticate()
    assert str(error.value) == (
        "Keystone refused the credentials (401): check OS_USERNAME, OS_PASSWORD, "
        "OS_PROJECT_NAME and the domains"
    )


def test_a_wrong_application_credential_secret_names_the_variables(cloud: Cloud):
    with pytest.raises(StorageError) as error:
        store_for(cloud.application_credential_env(secret="not-the-secret")).authenticate()
    assert str(error.value) == (
        "Keystone refused the credentials (401): check OS_APPLICATION_CREDENTIAL_ID and "
        "OS_APPLICATION_CREDENTIAL_SECRET"
    )


def test_os_interface_chooses_the_endpoint_of_the_service_s_own_calls(cloud: Cloud):
    store = store_for(cloud.password_env() | {"OS_INTERFACE": "internalURL"})
    assert store.tempurl_keys() is not None
    identity = store._identity
    # swiftclient's calls took the internal endpoint; browsers still get the public one.
    assert identity.get_endpoint("object-store", "public", None) == cloud.internal_storage_url
    assert store.public_url == cloud.storage_url
    assert store.own_url == cloud.internal_storage_url  # what `check` reports as its own calls


def test_os_cacert_verifies_keystone(cloud: Cloud, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    store = store_for(cloud.password_env() | {"OS_CACERT": str(bundle)})
    assert store._identity._session.verify == str(bundle)
    assert store_for(cloud.password_env())._identity._session.verify is True


def test_a_region_without_swift_lists_the_catalog_s_regions(cloud: Cloud):
    store = store_for(cloud.password_env() | {"OS_REGION_NAME": "RegionNine"})
    with pytest.raises(StorageError) as error:
        store.authenticate()
    assert str(error.value) == (
        "Keystone's catalog has no public object-store endpoint in region RegionNine; "
        f"it has: {REGION}"
    )


def test_nothing_listening_at_os_auth_url_is_one_line(cloud: Cloud):
    url = f"http://127.0.0.1:{free_port()}/v3"
    with pytest.raises(StorageError) as error:
        store_for(cloud.password_env() | {"OS_AUTH_URL": url}).authenticate()
    assert re.fullmatch(rf"Keystone unreachable at {re.escape(url)} \(\w+\)", str(error.value))


def test_reauth_margin_is_a_share_of_the_token_life():
    assert reauth_margin(None) == REAUTH_MARGIN
    assert reauth_margin(24 * 3600) == REAUTH_MARGIN
    assert reauth_margin(SHORT_LIFETIME) == pytest.approx(SHORT_LIFETIME / 10)


def test_a_short_lived_token_serves_several_calls_then_is_renewed(
    cloud: Cloud, short_lived: KeystoneServer
):
    store = store_for(cloud.password_env(short_lived))
    before = short_lived.token_requests()
    store.authenticate()
    for _ in range(5):
        assert store.tempurl_keys() is not None
    # A 300 s margin on a 12 s token would have logged in again for each call.
    assert short_lived.token_requests() - before == 1

    identity = store._identity
    deadline = time.monotonic() + SHORT_LIFETIME + 5
    while not identity.expiring():
        assert time.monotonic() < deadline, "the token never came within the margin"
        time.sleep(0.1)
    store.tempurl_keys()  # renewed first, and the new token works on Swift
    store.tempurl_keys()
    assert short_lived.token_requests() - before == 2


# -- openrc variables -----------------------------------------------------------------------------
def without(env: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in names}


def by_user_id(c: Cloud) -> dict[str, str]:
    # A wrong name beside the ID: the ID wins, and needs no user domain.
    return without(c.password_env(), "OS_USER_DOMAIN_ID") | {
        "OS_USER_ID": c.user_id,
        "OS_USERNAME": "not-alice",
    }


def credential_by_name(c: Cloud, user: dict[str, str]) -> dict[str, str]:
    env = without(c.application_credential_env(), "OS_APPLICATION_CREDENTIAL_ID")
    return env | {"OS_APPLICATION_CREDENTIAL_NAME": "upload-signer"} | user


@pytest.mark.parametrize(
    ("env", "method"),
    [
        (by_user_id, "password"),
        (lambda c: c.password_env() | {"OS_IDENTITY_API_VERSION": "3"}, "password"),
        (lambda c: c.password_env() | {"OS_AUTH_TYPE": "password"}, "password"),
        (lambda c: c.password_env() | {"OS_AUTH_TYPE": "v3password"}, "password"),
        # The password wins over an application credential only when OS_AUTH_TYPE says so.
        (
            lambda c: (
                c.password_env()
                | without(c.application_credential_env(), "OS_AUTH_URL")
                | {"OS_AUTH_TYPE": "v3password"}
            ),
            "password",
        ),
        (
            lambda c: c.password_env() | without(c.application_credential_env(), "OS_AUTH_URL"),
            "application_credential",
        ),
        (
            lambda c: c.application_credential_env() | {"OS_AUTH_TYPE": "v3applicationcredential"},
            "application_credential",
        ),
        (
            lambda c: (
                c.application_credential_env()
                | {"OS_AUTH_TYPE": "applicationcredential", "OS_IDENTITY_API_VERSION": "3"}
            ),
            "application_credential",
        ),
        (
            lambda c: credential_by_name(c, {"OS_USERNAME": USER, "OS_USER_DOMAIN_NAME": DOMAIN}),
            "application_credential",
        ),
        (
            lambda c: credential_by_name(c, {"OS_USER_ID": c.user_id}),
            "application_credential",
        ),
    ],
    ids=[
        "user-id",
        "identity-api-version-3",
        "auth-type-password",
        "auth-type-v3password",
        "auth-type-password-over-an-application-credential",
        "application-credential-over-a-password",
        "auth-type-v3applicationcredential",
        "auth-type-applicationcredential",
        "application-credential-name-and-username",
        "application-credential-name-and-user-id",
    ],
)
def test_openrc_variables_log_in(cloud: Cloud, env, method):
    store = store_for(env(cloud))
    store.authenticate()
    assert login_methods(store) == [method]
    assert store.public_url == cloud.storage_url
    assert store.tempurl_keys() is not None  # the token works on Swift


def test_an_application_credential_name_of_another_user_is_refused(cloud: Cloud):
    env = credential_by_name(cloud, {"OS_USERNAME": USER})  # the Default domain: another user
    with pytest.raises(StorageError) as error:
        store_for(env).authenticate()
    # Keystone answers 404 here, not 401: the line says what it did not find, not "OS_AUTH_URL".
    assert str(error.value) == (
        f"Keystone answered 404 (Could not find user: {USER}): check "
        "OS_APPLICATION_CREDENTIAL_NAME, OS_APPLICATION_CREDENTIAL_SECRET, OS_USERNAME, "
        "OS_USER_DOMAIN_*"
    )


# -- clouds.yaml (OS_CLOUD) -----------------------------------------------------------------------
def write_clouds(folder: Path, clouds: dict, secure: dict | None = None) -> dict[str, str]:
    """clouds.yaml (and secure.yaml) in ``folder``; the variables that point at them."""
    (folder / "clouds.yaml").write_text(yaml.safe_dump({"clouds": clouds}))
    env = {"OS_CLIENT_CONFIG_FILE": str(folder / "clouds.yaml")}
    if secure is not None:
        (folder / "secure.yaml").write_text(yaml.safe_dump({"clouds": secure}))
        env["OS_CLIENT_SECURE_FILE"] = str(folder / "secure.yaml")
    return env


def password_cloud(c: Cloud, **auth: str) -> dict:
    return {
        "auth": {
            "auth_url": c.keystone.url,
            "username": USER,
            "password": c.password,
            "project_name": PROJECT,
            "user_domain_id": c.domain_id,
            "project_domain_id": c.domain_id,
        }
        | auth,
        "region_name": REGION,
    }


def test_os_cloud_signs_a_tempurl_swift_accepts(cloud: Cloud, tmp_path):
    env = write_clouds(tmp_path, {"elsewhere": {}, "uploads": password_cloud(cloud)})
    sign_and_put(cloud, env | {"OS_CLOUD": "uploads"}, "clouds-yaml")


def test_os_cloud_with_an_application_credential_and_a_secure_yaml(cloud: Cloud, tmp_path):
    cred_id, cred_secret = cloud.application_credential
    env = write_clouds(
        tmp_path,
        {
            "app": {
                "auth_type": "v3applicationcredential",
                # A versionless URL, as clouds.yaml files often have it.
                "auth": {
                    "auth_url": cloud.keystone.url.removesuffix("/v3"),
                    "application_credential_id": cred_id,
                },
                "region_name": REGION,
                "interface": "internal",
            }
        },
        secure={"app": {"auth": {"application_credential_secret": cred_secret}}},
    )
    store = store_for(env | {"OS_CLOUD": "app"})
    store.authenticate()
    assert login_methods(store) == ["application_credential"]
    # The cloud's interface is the one of the service's own calls; browsers get the public one.
    identity = store._identity
    assert identity.get_endpoint("object-store", "public", None) == cloud.internal_storage_url
    assert store.public_url == cloud.storage_url
    assert store.own_url == cloud.internal_storage_url  # what `check` reports as its own calls
    assert store.tempurl_keys() is not None


def test_os_variables_win_over_the_cloud(cloud: Cloud, tmp_path):
    stale = password_cloud(cloud, password="an-old-password", username="someone-else")
    env = write_clouds(tmp_path, {"uploads": stale, "other": {}}) | {
        "OS_CLOUD": "uploads",
        "OS_USER_ID": cloud.user_id,  # keeps the cloud's username out, as the ID would win
        "OS_PASSWORD": cloud.password,
    }
    auth = Settings.from_env(service_env() | env).storage
    assert (auth.username, auth.user_id, auth.cloud) == (None, cloud.user_id, "uploads")
    store = store_for(env)
    store.authenticate()
    assert store.tempurl_keys() is not None
    # The cloud's wrong password alone is refused, naming the cloud too.
    with pytest.raises(StorageError) as error:
        store_for(without(env, "OS_PASSWORD")).authenticate()
    assert str(error.value) == (
        "Keystone refused the credentials (401): check OS_USER_ID, OS_PASSWORD, OS_PROJECT_NAME "
        "and the domains (or the auth of the clouds.yaml cloud 'uploads' that OS_CLOUD names)"
    )


# -- what the service does when Keystone or its token goes away ----------------------------------
def upload_through(client, filename: str, data: bytes) -> dict:
    """``POST /uploads`` answered 201, and Swift stored ``data`` at its ``upload_url``: the
    answer."""
    answer = client.post("/uploads", json={"filename": filename}, headers=API)
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    stored = requests.put(body["upload_url"], data=data, headers=body["upload_headers"], timeout=30)
    assert stored.status_code == 201
    return body


def test_a_token_revoked_mid_upload_is_replaced_by_a_new_login(cloud: Cloud):
    env = service_env() | cloud.password_env() | {"UPLOAD_CONTAINER": "revoked"}
    app = create_app(env | {"READY_CACHE_SECONDS": "0"})  # each /readyz asks storage
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    body = upload_through(client, "revoked.txt", b"before the revocation")

    first = service_token(app)
    cloud.revoke(first)
    assert not cloud.swift_takes(first)  # Swift refuses it from now on
    logins = cloud.keystone.token_requests()
    done = client.post(f"/uploads/{body['upload_id']}/complete", headers=API)
    assert done.status_code == 200, done.get_json()
    second = service_token(app)
    assert second != first and cloud.swift_takes(second)
    assert cloud.keystone.token_requests() == logins + 1  # one new login, no more
    download = requests.get(done.get_json()["download_url"], timeout=30)
    assert download.content == b"before the revocation"

    # Readiness recovers the same way.
    cloud.revoke(second)
    logins = cloud.keystone.token_requests()
    assert client.get("/readyz").status_code == 200
    assert service_token(app) not in (first, second)
    assert cloud.keystone.token_requests() == logins + 1


def test_signing_goes_on_while_keystone_is_down(cloud: Cloud):
    app = create_app(service_env() | cloud.password_env() | {"UPLOAD_CONTAINER": "no-keystone"})
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    cloud.keystone.stop()
    try:
        with pytest.raises(requests.ConnectionError):
            requests.get(cloud.keystone.url, timeout=5)
        body = upload_through(client, "offline.txt", b"signed without Keystone")
    finally:
        cloud.keystone.start()
    # Swift has the bytes (read with a token, now that Keystone answers again).
    got = requests.get(
        body["upload_url"].split("?")[0], headers={"X-Auth-Token": cloud.user_token()}, timeout=30
    )
    assert got.content == b"signed without Keystone"


def test_a_segmented_upload_and_its_preflight_through_keystone(cloud: Cloud):
    env = service_env() | cloud.password_env()
    env |= {"UPLOAD_CONTAINER": "segmented", "SEGMENT_THRESHOLD": "1M", "SEGMENT_SIZE": "1M"}
    client = create_app(env).test_client()
    data = os.urandom(2 * MIB + 1000)
    answer = client.post("/uploads", json={"filename": "big.bin", "size": len(data)}, headers=API)
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["segmented"] is True and body["part_count"] == 3
    parts = body["parts"]
    assert len(parts) == 3

    def preflight(origin: str) -> requests.Response:
        return requests.options(
            parts[0]["upload_url"],
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "content-type",
            },
            timeout=30,
        )

    allowed = preflight(ORIGIN)
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Access-Control-Allow-Origin" not in preflight("https://elsewhere.example").headers

    for part in parts:
        chunk = data[part["offset"] : part["offset"] + part["length"]]
        put = requests.put(part["upload_url"], data=chunk, headers={"Origin": ORIGIN}, timeout=60)
        assert put.status_code == 201
        assert put.headers["Access-Control-Allow-Origin"] == ORIGIN
    done = client.post(f"/uploads/{body['upload_id']}/complete", headers=API)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["size"] == len(data)
    download = requests.get(done.get_json()["download_url"], timeout=60)
    assert hashlib.sha256(download.content).digest() == hashlib.sha256(data).digest()
