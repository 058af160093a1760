"""STORAGE_BACKEND=pyrax, with pyrax 1.10.0 on a real Swift behind a mocked Rackspace identity.

pyrax's pins cannot share an environment with the `keystone` extra, so `make test` runs this file
in a venv of its own (.venv-pyrax, with the `embedded` extra for the Swift); in the main venv it is
skipped. Rackspace identity is requests-mock (tests/support/rackspace.py), its catalog pointing at
an embedded Swift of this module with a token that Swift issued; what pyrax did on storage is read
back from that Swift.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

pyrax = pytest.importorskip(
    "pyrax", reason="pyrax is not in this venv: `make test` runs this file in .venv-pyrax"
)

import requests  # noqa: E402

from app import create_app  # noqa: E402
from app.cli.check import run_check  # noqa: E402
from app.settings.parsers import ConfigError  # noqa: E402
from app.settings.service import Settings  # noqa: E402
from app.storage.factory import open_store  # noqa: E402
from app.storage.interface import StorageError  # noqa: E402
from app.storage.preparation import prepare  # noqa: E402
from app.storage.pyrax_backend import PyraxSigner, PyraxStore  # noqa: E402
from app.storage.signing import Signer  # noqa: E402
from app.web.runtime import Runtime  # noqa: E402
from tests.support import rackspace  # noqa: E402
from tests.support.swift_account import (  # noqa: E402
    PUBLIC_CLIENT,
    SERVICENET_CLIENT,
    SwiftAccount,
    identity_mocked,
    never_issued_token,
    shown,
)

ENV = rackspace.ENV | {"STORAGE_BACKEND": "pyrax", "TEMPURL_DIGEST": "sha1"}
KEY = "k" * 32
MAX_FILE_SIZE = 7_340_032  # this module's Swift, so that its /info is told from any other


@pytest.fixture(scope="module")
def provider_swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftAccount]:
    with SwiftAccount.started(
        tmp_path_factory.mktemp("pyrax-swift"), max_file_size=MAX_FILE_SIZE
    ) as account:
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


def identity(mock, swift: SwiftAccount | None = None, *answers: dict, region: str = "ORD"):
    return rackspace.mock_identity(mock, swift, *answers, region=region)


def test_settings_insist_on_sha1_and_rackspace_credentials():
    with pytest.raises(ConfigError, match="set TEMPURL_DIGEST=sha1"):
        Settings.from_env(ENV | {"TEMPURL_DIGEST": "sha256"})
    with pytest.raises(ConfigError, match="ASCII UPLOAD_CONTAINER"):
        Settings.from_env(ENV | {"UPLOAD_CONTAINER": "téléchargements"})
    assert isinstance(open_store(Settings.from_env(ENV)), PyraxStore)


def test_start_up_and_signing_through_pyrax(mock, swift):
    auth = identity(mock, swift)
    app = create_app(ENV)
    assert app.test_client().get("/readyz").status_code == 200
    assert auth.request_history[0].json()["auth"]["RAX-KSKEY:apiKeyCredentials"] == {
        "username": "alice",
        "apiKey": rackspace.ENV["RACKSPACE_API_KEY"],
    }
    assert swift.container_headers("uploads")["x-container-meta-access-control-allow-origin"] == (
        "https://app.example.com"
    )
    signer = Runtime.of(app).storage.signer
    assert isinstance(signer, PyraxSigner)
    api = {"Authorization": f"Bearer {rackspace.ENV['API_TOKENS']}"}
    answer = app.test_client().post("/uploads", json={"filename": "report final.pdf"}, headers=api)
    assert answer.status_code == 201, answer.get_json()
    upload = answer.get_json()["upload_url"]
    parts = urlsplit(upload)
    query = parse_qs(parts.query)
    key = swift.tempurl_key()
    body = f"PUT\n{query['temp_url_expires'][0]}\n{unquote(parts.path)}".encode()
    assert query["temp_url_sig"] == [hmac.new(key.encode(), body, hashlib.sha1).hexdigest()]
    download = answer.get_json()["download_url"]
    assert parse_qs(urlsplit(download).query)["filename"] == ["report final.pdf"]
    # Swift itself takes both signatures.
    headers = answer.get_json()["upload_headers"]
    assert requests.put(upload, data=b"via pyrax", headers=headers, timeout=30).ok
    upload_id = answer.get_json()["upload_id"]
    assert app.test_client().post(f"/uploads/{upload_id}/complete", headers=api).status_code == 200
    fetched = requests.get(download, timeout=30)
    assert fetched.content == b"via pyrax"
    assert "report%20final.pdf" in fetched.headers["Content-Disposition"]
    own = swift.token_calls()
    assert own and all(c.used(swift.token()) and c.client == PUBLIC_CLIENT for c in own)


@pytest.mark.parametrize(
    ("method", "filename"), [("PUT", None), ("GET", None), ("GET", "report 2024.pdf")]
)
def test_both_backends_sign_identical_urls(mock, swift, method, filename):
    identity(mock, swift)
    store = PyraxStore(Settings.from_env(ENV).storage)
    store.authenticate()
    expires = int(time.time()) + 900
    name = "0b8e0a4e-6c1f-4f7e-9d3a-2f1e5b7c9d10"
    ours = Signer(swift.public_url, "uploads", KEY, "sha1")
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


def test_our_key_lookup_finds_the_key_pyrax_misses(mock, swift):
    identity(mock, swift)
    before = swift.tempurl_keys()
    set_key = swift.request(
        "POST",
        headers={
            "X-Account-Meta-Temp-Url-Key": KEY,
            "X-Remove-Account-Meta-Temp-Url-Key-2": "x",
        },
    )
    assert set_key.status_code == 204
    try:
        store = PyraxStore(Settings.from_env(ENV).storage)
        assert store.tempurl_keys() == (KEY, None)
        client = store._client(public=True)
        assert client.get_temp_url_key(cached=False) is None  # pyrax 1.10.0's header-case bug
    finally:  # the other tests sign with the module's own key
        restore = {"X-Account-Meta-Temp-Url-Key": before[0] or ""}
        if before[1]:
            restore["X-Account-Meta-Temp-Url-Key-2"] = before[1]
        assert swift.request("POST", headers=restore).status_code == 204


def test_servicenet_and_region_through_pyrax(mock, swift):
    identity(mock, swift, region="SYD")
    settings = Settings.from_env(
        ENV | {"RACKSPACE_REGION": "syd", "RACKSPACE_SERVICENET": "1", "UPLOAD_CONTAINER": "snet"}
    )
    store = open_store(settings)
    signer = prepare(store, settings)
    assert swift.container_headers("snet") is not None
    own = swift.token_calls()
    assert own and all(c.client == SERVICENET_CLIENT for c in own)  # pyrax's calls: ServiceNet
    assert signer.storage_url == swift.public_url
    assert store.region == "SYD"


def test_unknown_region_and_bad_credentials(mock):
    identity(mock, None, {"regions": ("DFW", "LON")})
    store = open_store(Settings.from_env(ENV | {"RACKSPACE_REGION": "HKG"}))
    with pytest.raises(StorageError) as error:
        store.tempurl_keys()
    assert (
        str(error.value) == "Cloud Files has no endpoint in region HKG; the catalog has: DFW, LON"
    )
    mock.post(f"{rackspace.IDENTITY}/tokens", status_code=401, json={"unauthorized": {}})
    with pytest.raises(StorageError, match="refused the credentials: check RACKSPACE_USERNAME"):
        open_store(Settings.from_env(ENV)).authenticate()


def test_the_token_is_renewed_before_it_expires(mock, swift):
    soon = time.time() + 120  # inside the 300 s margin
    # The expiring token is one Swift never issued: had pyrax sent it, the log would say so.
    calls = identity(mock, swift, {"token": never_issued_token(), "expires": soon}, {})
    store = open_store(Settings.from_env(ENV))
    store.authenticate()
    store.tempurl_keys()
    assert calls.call_count == 2
    assert [(c.token, c.outcome) for c in swift.token_calls()] == [(shown(swift.token()), "2xx")]


def test_check_passes_with_the_pyrax_backend(mock, swift):
    identity(mock, swift)
    env = ENV | {"UPLOAD_CONTAINER": "checked"}
    out = io.StringIO()
    assert run_check(env, fix=True, out=out) == 0, out.getvalue()
    assert "sha1 is allowed" in out.getvalue()
    assert swift.object_names("checked") == []  # its test object deleted again


def test_the_segmented_upload_operations_through_pyrax(mock, swift):
    """list/head/manifest/delete/info: what segmented uploads need from a store."""
    identity(mock, swift)
    store = PyraxStore(Settings.from_env(ENV).storage)
    for container in ("parts", "parts_segments"):
        assert swift.request("PUT", f"/{container}").status_code in (201, 202)
    segments = []
    for number, data in enumerate([b"first ", b"second ", b"third"]):
        name = f"p/{number:04d}"
        assert swift.request("PUT", f"/parts_segments/{name}", data=data).status_code == 201
        etag = hashlib.md5(data).hexdigest()  # noqa: S324 - Swift's ETag
        segments.append({"path": f"/parts_segments/{name}", "etag": etag, "size_bytes": len(data)})
    assert swift.request("PUT", "/parts_segments/other/0000", data=b"x").status_code == 201
    swift.mark()
    names = [o["name"] for o in store.list_objects("parts_segments", prefix="p/")]
    assert names == ["p/0000", "p/0001", "p/0002"]
    # Pages follow the marker of the last name until Swift answers an empty one.
    pages = [parse_qs(urlsplit(c.path).query) for c in swift.token_calls() if c.method == "GET"]
    assert [(q["format"], q["prefix"], q.get("marker")) for q in pages] == [
        (["json"], ["p/"], None),
        (["json"], ["p/"], ["p/0002"]),
    ]
    assert store.head_object("parts_segments", "p/0001")["etag"] == segments[1]["etag"]
    assert store.head_object("parts", "missing") is None
    etag = store.put_manifest("parts", "big", segments, {"Content-Type": "text/plain"})
    manifest = swift.request("GET", "/parts/big", params={"multipart-manifest": "get"})
    assert manifest.headers["X-Static-Large-Object"] == "True"  # stored as an SLO manifest
    stored = [(s["name"], s["hash"], s["bytes"]) for s in json.loads(manifest.text)]
    assert stored == [(s["path"], s["etag"], s["size_bytes"]) for s in segments]
    whole = swift.request("GET", "/parts/big")
    assert whole.content == b"first second third"
    assert whole.headers["Content-Type"] == "text/plain"
    assert etag == whole.headers["Etag"].strip('"')
    assert store.delete_object("parts_segments", "other/0000") is True
    assert store.delete_object("parts_segments", "other/0000") is False
    assert swift.object_names("parts_segments") == ["p/0000", "p/0001", "p/0002"]
    info = store.cluster_info()
    assert info["swift"]["max_file_size"] == MAX_FILE_SIZE  # this Swift's own /info
    assert "tempurl" in info


def test_put_object_once_creates_only_what_is_absent_through_pyrax(mock, swift):
    """The completion marker's operation: the first call creates, a later one is told False."""
    identity(mock, swift)
    store = PyraxStore(Settings.from_env(ENV).storage)
    assert swift.request("PUT", "/once_segments").status_code in (201, 202)
    headers = {"X-Delete-After": "600", "X-Object-Meta-Claim": "first"}
    assert store.put_object_once("once_segments", "o/completed", b"", headers) is True
    again = headers | {"X-Object-Meta-Claim": "second"}
    assert store.put_object_once("once_segments", "o/completed", b"", again) is False
    stored = store.head_object("once_segments", "o/completed")
    assert stored["x-object-meta-claim"] == "first" and "x-delete-at" in stored
    with pytest.raises(StorageError, match="object PUT: storage answered 404"):
        store.put_object_once("no_such_container", "o/completed", b"", headers)


def test_put_object_stores_what_an_abort_marks_through_pyrax(mock, swift):
    """An abort leaves a marker object: the store must write small objects with its own token."""
    identity(mock, swift)
    store = PyraxStore(Settings.from_env(ENV).storage)
    assert swift.request("PUT", "/marks_segments").status_code in (201, 202)
    store.put_object("marks_segments", "o/aborted", b"", {"X-Delete-After": "600"})
    stored = store.head_object("marks_segments", "o/aborted")
    assert stored is not None and "x-delete-at" in stored
    with pytest.raises(StorageError, match="object PUT: storage answered 404"):
        store.put_object("no_such_container", "o/aborted", b"", {})


def test_pyrax_signs_other_containers_but_not_prefix_or_ip_range(mock, swift):
    identity(mock, swift)
    store = PyraxStore(Settings.from_env(ENV).storage)
    signer = store.make_signer("uploads", KEY, "sha1")
    expires = int(time.time()) + 60
    url = signer.sign("PUT", "p/0001", expires, container="uploads_segments")
    assert url.startswith(f"{swift.public_url}/uploads_segments/p/0001?")
    with pytest.raises(ValueError, match="temp_url_ip_range or temp_url_prefix"):
        signer.sign("PUT", "p/0001", expires, ip_range="127.0.0.1")
