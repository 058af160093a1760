"""STORAGE_BACKEND=pyrax, with pyrax 1.10.0 against requests-mock.

pyrax's pins cannot share an environment with the `keystone` extra, so `make test` runs this file
in a venv of its own (.venv-pyrax); in the main venv it is skipped.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

pyrax = pytest.importorskip(
    "pyrax", reason="pyrax is not in this venv: `make test` runs this file in .venv-pyrax"
)

import requests_mock  # noqa: E402

from app import create_app  # noqa: E402
from app.settings.parsers import ConfigError  # noqa: E402
from app.settings.service import Settings  # noqa: E402
from app.storage.factory import open_store  # noqa: E402
from app.storage.interface import StorageError  # noqa: E402
from app.storage.preparation import prepare  # noqa: E402
from app.storage.pyrax_backend import PyraxSigner, PyraxStore  # noqa: E402
from app.storage.signing import Signer  # noqa: E402
from app.web.runtime import Runtime  # noqa: E402
from tests.support import rackspace  # noqa: E402
from tests.support.fake_swift import FakeSwiftAccount  # noqa: E402

ENV = rackspace.ENV | {"STORAGE_BACKEND": "pyrax", "TEMPURL_DIGEST": "sha1"}
KEY = "k" * 32


@pytest.fixture
def mock():
    with requests_mock.Mocker() as mocker:
        yield mocker


def identity(mock, **answer) -> object:
    return mock.post(f"{rackspace.IDENTITY}/tokens", json=rackspace.token_answer(**answer))


def test_settings_insist_on_sha1_and_rackspace_credentials():
    with pytest.raises(ConfigError, match="set TEMPURL_DIGEST=sha1"):
        Settings.from_env(ENV | {"TEMPURL_DIGEST": "sha256"})
    with pytest.raises(ConfigError, match="ASCII UPLOAD_CONTAINER"):
        Settings.from_env(ENV | {"UPLOAD_CONTAINER": "téléchargements"})
    assert isinstance(open_store(Settings.from_env(ENV)), PyraxStore)


def test_start_up_and_signing_through_pyrax(mock):
    auth = identity(mock)
    files = FakeSwiftAccount(mock, rackspace.public_url("ORD"), {"tok-1"})
    app = create_app(ENV)
    assert app.test_client().get("/readyz").status_code == 200
    assert auth.request_history[0].json()["auth"]["RAX-KSKEY:apiKeyCredentials"] == {
        "username": "alice",
        "apiKey": rackspace.ENV["RACKSPACE_API_KEY"],
    }
    assert files.containers["uploads"]["x-container-meta-access-control-allow-origin"] == (
        "https://app.example.com"
    )
    signer = Runtime.of(app).storage.signer
    assert isinstance(signer, PyraxSigner)
    answer = app.test_client().post(
        "/uploads",
        json={"filename": "report final.pdf"},
        headers={"Authorization": f"Bearer {rackspace.ENV['API_TOKENS']}"},
    )
    assert answer.status_code == 201, answer.get_json()
    upload = answer.get_json()["upload_url"]
    parts = urlsplit(upload)
    query = parse_qs(parts.query)
    key = files.account["x-account-meta-temp-url-key"]
    body = f"PUT\n{query['temp_url_expires'][0]}\n{unquote(parts.path)}".encode()
    assert query["temp_url_sig"] == [hmac.new(key.encode(), body, hashlib.sha1).hexdigest()]
    download = answer.get_json()["download_url"]
    assert parse_qs(urlsplit(download).query)["filename"] == ["report final.pdf"]


@pytest.mark.parametrize(
    ("method", "filename"), [("PUT", None), ("GET", None), ("GET", "report 2024.pdf")]
)
def test_both_backends_sign_identical_urls(mock, method, filename):
    identity(mock)
    store = PyraxStore(Settings.from_env(ENV).storage)
    store.authenticate()
    expires = int(time.time()) + 900
    name = "0b8e0a4e-6c1f-4f7e-9d3a-2f1e5b7c9d10"
    ours = Signer(rackspace.public_url("ORD"), "uploads", KEY, "sha1")
    theirs = store.make_signer("uploads", KEY, "sha1")
    assert theirs.storage_url == ours.storage_url
    signed = ours.sign(method, name, expires, filename=filename)
    assert theirs.sign(method, name, expires, filename=filename) == signed
    assert f"temp_url_expires={expires}" in signed


def test_pyrax_limits_are_refused_clearly(mock):
    identity(mock)
    store = PyraxStore(Settings.from_env(ENV).storage)
    store.authenticate()
    signer = store.make_signer("uploads", KEY, "sha1")
    with pytest.raises(ValueError, match="GET and PUT only"):
        signer.sign("POST", "a", int(time.time()) + 60)
    with pytest.raises(ValueError, match="ASCII"):
        signer.sign("GET", "é", int(time.time()) + 60)
    with pytest.raises(StorageError, match="SHA1 only"):
        store.make_signer("uploads", KEY, "sha256")


def test_our_key_lookup_finds_the_key_pyrax_misses(mock):
    identity(mock)
    files = FakeSwiftAccount(mock, rackspace.public_url("ORD"), {"tok-1"})
    files.account["x-account-meta-temp-url-key"] = KEY
    store = PyraxStore(Settings.from_env(ENV).storage)
    assert store.tempurl_keys() == (KEY, None)
    client = store._client(public=True)
    assert client.get_temp_url_key(cached=False) is None  # pyrax 1.10.0's header-case bug


def test_servicenet_and_region_through_pyrax(mock):
    identity(mock)
    internal = FakeSwiftAccount(mock, rackspace.internal_url("SYD"), {"tok-1"})
    settings = Settings.from_env(ENV | {"RACKSPACE_REGION": "syd", "RACKSPACE_SERVICENET": "1"})
    store = open_store(settings)
    signer = prepare(store, settings)
    assert "uploads" in internal.containers
    assert signer.storage_url == rackspace.public_url("SYD")
    assert store.region == "SYD"


def test_unknown_region_and_bad_credentials(mock):
    identity(mock, regions=("DFW", "LON"))
    store = open_store(Settings.from_env(ENV | {"RACKSPACE_REGION": "HKG"}))
    with pytest.raises(StorageError) as error:
        store.tempurl_keys()
    assert (
        str(error.value) == "Cloud Files has no endpoint in region HKG; the catalog has: DFW, LON"
    )
    mock.post(f"{rackspace.IDENTITY}/tokens", status_code=401, json={"unauthorized": {}})
    with pytest.raises(StorageError, match="refused the credentials: check RACKSPACE_USERNAME"):
        open_store(Settings.from_env(ENV)).authenticate()


def test_the_token_is_renewed_before_it_expires(mock):
    soon = time.time() + 120  # inside the 300 s margin
    calls = mock.post(
        f"{rackspace.IDENTITY}/tokens",
        [
            {"json": rackspace.token_answer("tok-1", expires=soon)},
            {"json": rackspace.token_answer("tok-2")},
        ],
    )
    files = FakeSwiftAccount(mock, rackspace.public_url("ORD"), {"tok-1", "tok-2"})
    store = open_store(Settings.from_env(ENV))
    store.authenticate()
    store.tempurl_keys()
    assert calls.call_count == 2
    assert files.seen_tokens[-1] == "tok-2"


def test_check_passes_with_the_pyrax_backend(mock):
    import io

    from app.cli.check import run_check

    identity(mock)
    files = FakeSwiftAccount(mock, rackspace.public_url("ORD"), {"tok-1"})
    out = io.StringIO()
    assert run_check(ENV, fix=True, out=out) == 0, out.getvalue()
    assert "sha1 is allowed" in out.getvalue()
    assert files.objects == {}


def test_the_segmented_upload_operations_through_pyrax(mock):
    """list/head/manifest/delete/info: what segmented uploads need from a store."""
    identity(mock)
    base = rackspace.public_url("ORD")
    listing = mock.get(
        f"{base}/uploads_segments",
        [
            {"json": [{"name": f"p/{i:04d}", "bytes": 1} for i in range(2)]},
            {"json": [{"name": "p/0002", "bytes": 1}]},
            {"json": []},
        ],
    )
    mock.head(f"{base}/uploads/a", headers={"Etag": '"abc"', "Content-Length": "3"})
    mock.head(f"{base}/uploads/missing", status_code=404)
    manifest = mock.put(f"{base}/uploads/big", status_code=201, headers={"Etag": '"m-etag"'})
    mock.delete(f"{base}/uploads/a", status_code=204)
    mock.delete(f"{base}/uploads/missing", status_code=404)
    mock.get("https://storage101.ord1.clouddrive.com/info", json={"swift": {"max_file_size": 5}})
    store = PyraxStore(Settings.from_env(ENV).storage)
    names = [o["name"] for o in store.list_objects("uploads_segments", prefix="p/")]
    assert names == ["p/0000", "p/0001", "p/0002"]
    assert listing.request_history[1].qs == {
        "format": ["json"],
        "prefix": ["p/"],
        "marker": ["p/0001"],
    }
    assert store.head_object("uploads", "a")["etag"] == '"abc"'
    assert store.head_object("uploads", "missing") is None
    segments = [{"path": "/uploads_segments/p/0000", "etag": "e", "size_bytes": 1}]
    assert (
        store.put_manifest("uploads", "big", segments, {"Content-Type": "text/plain"}) == "m-etag"
    )
    assert manifest.last_request.qs == {"multipart-manifest": ["put"]}
    assert manifest.last_request.json() == segments
    assert manifest.last_request.headers["Content-Type"] == "text/plain"
    assert store.delete_object("uploads", "a") is True
    assert store.delete_object("uploads", "missing") is False
    assert store.cluster_info() == {"swift": {"max_file_size": 5}}


def test_pyrax_signs_other_containers_but_not_prefix_or_ip_range(mock):
    identity(mock)
    store = PyraxStore(Settings.from_env(ENV).storage)
    signer = store.make_signer("uploads", KEY, "sha1")
    expires = int(time.time()) + 60
    url = signer.sign("PUT", "p/0001", expires, container="uploads_segments")
    assert url.startswith(f"{rackspace.public_url('ORD')}/uploads_segments/p/0001?")
    with pytest.raises(ValueError, match="temp_url_ip_range or temp_url_prefix"):
        signer.sign("PUT", "p/0001", expires, ip_range="127.0.0.1")
