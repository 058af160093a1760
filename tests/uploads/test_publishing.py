"""What the service promises about an upload holds against a client that does not cooperate:
its size (storage refuses a bigger form, completion a bigger PUT), its type, and that nothing
changes once ``complete`` has published it or an abort has withdrawn it. Real Swift throughout.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.uploads import gc as gc_module
from app.uploads.layout import segment_name
from app.web.runtime import Runtime
from tests.support.constants import ALLOWED_ORIGIN, TOKEN
from tests.support.problems import assert_problem
from tests.support.webhooks import Recording, receiving

MIB = 1024 * 1024
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SEGMENTS = "uploads_segments"


def put(answer: dict, data: bytes, **headers: str) -> requests.Response:
    headers = answer["upload_headers"] | headers
    return requests.put(answer["upload_url"], data=data, headers=headers, timeout=60)


def post_form(answer: dict, data: bytes, origin: str | None = None) -> requests.Response:
    """The form as a browser sends it: the fields in order, then the file part."""
    form = answer["upload_form"]
    return requests.post(
        form["url"],
        data=list(form["fields"].items()),
        files={"file": (form["file_name"], data, "application/octet-stream")},
        headers={"Origin": origin} if origin else {},
        timeout=60,
    )


def staged(client: FlaskClient, answer: dict) -> dict[str, str] | None:
    store = Runtime.of(client.application).storage.store
    return store.head_object(SEGMENTS, segment_name(answer["object_name"], 1))


def complete(client: FlaskClient, answer: dict, **body: object):
    return client.post(f"/uploads/{answer['upload_id']}/complete", json=body or None, headers=AUTH)


def sign(client: FlaskClient, filename: str = "f.bin", **fields: object) -> dict:
    response = client.post("/uploads", json={"filename": filename, **fields}, headers=AUTH)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# -- size ---------------------------------------------------------------------------------------
def test_the_download_url_serves_nothing_until_complete_publishes(client):
    answer = sign(client, "a.txt", size=5)
    assert put(answer, b"hello").status_code == 201
    assert requests.get(answer["download_url"], timeout=30).status_code == 404
    assert complete(client, answer).status_code == 200
    download = requests.get(answer["download_url"], timeout=30)
    assert (download.status_code, download.content) == (200, b"hello")


@pytest.mark.parametrize("limit", [None, "1 MiB"])
def test_a_put_bigger_than_declared_is_refused_at_completion_and_deleted(env, limit):
    client = create_app(env | ({"MAX_UPLOAD_SIZE": limit} if limit else {})).test_client()
    answer = sign(client, size=1024)
    assert put(answer, os.urandom(2 * MIB)).status_code == 201  # a PUT URL cannot cap its body
    response = complete(client, answer)
    assert_problem(response, 409, "2097152 bytes, 1024 were declared")
    assert response.get_json()["missing_parts"] == [1]
    assert staged(client, answer) is None  # deleted, not kept
    assert requests.get(answer["download_url"], timeout=30).status_code == 404
    # The right bytes through the same URL still complete the upload.
    assert put(answer, b"x" * 1024).status_code == 201
    assert complete(client, answer).get_json()["size"] == 1024


def test_an_md5_the_client_declares_that_differs_is_refused_and_deleted(client):
    answer = sign(client, size=3)
    assert put(answer, b"abc").status_code == 201
    response = complete(client, answer, parts=[{"number": 1, "etag": "0" * 32}])
    assert_problem(response, 409, "another MD5")
    assert staged(client, answer) is None


def test_the_form_is_signed_for_the_declared_size_and_one_file(client):
    answer = sign(client, size=1234)
    form = answer["upload_form"]
    assert list(form["fields"]) == [
        "redirect", "max_file_size", "max_file_count", "expires", "signature",
    ]  # fmt: skip
    assert (form["fields"]["max_file_size"], form["fields"]["max_file_count"]) == ("1234", "1")
    assert form["fields"]["expires"] in answer["upload_url"]  # as long as the PUT URL
    limits = Runtime.of(client.application).uploads().limits
    unsized = sign(client)["upload_form"]["fields"]["max_file_size"]
    assert unsized == str(limits.max_file_size)


def test_storage_stores_a_form_file_of_the_declared_size(client):
    data = os.urandom(4096)
    answer = sign(client, "photo.png", size=len(data))
    stored = post_form(answer, data, origin=ALLOWED_ORIGIN)
    assert stored.status_code == 201
    assert stored.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    done = complete(client, answer).get_json()
    assert (done["size"], done["etag"]) == (len(data), hashlib.md5(data).hexdigest())  # noqa: S324
    assert requests.get(answer["download_url"], timeout=30).content == data


def test_storage_refuses_a_form_file_over_its_size_and_stores_nothing(client):
    answer = sign(client, size=1024)
    refused = post_form(answer, b"x" * 1025, origin=ALLOWED_ORIGIN)
    assert refused.status_code == 400
    assert b"max_file_size exceeded" in refused.content
    assert "Access-Control-Allow-Origin" not in refused.headers  # the browser sees an error
    assert staged(client, answer) is None
    assert_problem(complete(client, answer), 409, "not been uploaded")


def test_storage_stores_nothing_from_a_form_over_the_policy_limit(env):
    client = create_app(env | {"MAX_UPLOAD_SIZE": "64 KiB"}).test_client()
    answer = sign(client, size=64 * 1024)
    assert post_form(answer, os.urandom(64 * 1024 + 1)).status_code == 400
    assert staged(client, answer) is None


def test_a_form_preflight_is_cached_and_answers_for_the_allowed_origin(client):
    answer = sign(client, size=1)
    preflight = requests.options(
        answer["upload_form"]["url"],
        headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"},
        timeout=30,
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert int(preflight.headers["Access-Control-Max-Age"]) > 0


def test_a_form_cannot_write_the_service_markers(client):
    """The form's prefix ends inside the part number: no file name makes it a marker."""
    answer = sign(client, size=1)
    form = answer["upload_form"] | {"file_name": "/../aborted"}
    assert post_form(answer | {"upload_form": form}, b"x").status_code == 201
    assert client.get(f"/uploads/{answer['upload_id']}", headers=AUTH).status_code == 200
    assert form["url"].endswith(answer["object_name"] + "/00000")


def test_uploads_bound_to_an_address_get_no_form(env):
    client = create_app(env | {"UPLOAD_BIND_IP": "true"}).test_client()
    answer = client.post(
        "/uploads",
        json={"filename": "x.txt"},
        headers=AUTH,
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    ).get_json()
    assert "upload_form" not in answer and "temp_url_ip_range=" in answer["upload_url"]


# -- type ---------------------------------------------------------------------------------------
def test_the_published_type_is_the_services_whatever_the_uploader_sent(client):
    answer = sign(client, "photo.png", size=22)
    assert answer["upload_headers"]["Content-Type"] == "image/png"
    assert put(answer, b"<script>alert(1)</script"[:22], **{"Content-Type": "text/html"}).ok
    done = complete(client, answer).get_json()
    assert done["content_type"] == "image/png"
    inline = requests.get(answer["download_url"] + "&inline", timeout=30)
    assert inline.headers["Content-Type"] == "image/png"


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [
        ("page.html", None),
        ("page.htm", "text/html; charset=utf-8"),
        ("drawing.svg", None),
        ("feed.xml", "application/atom+xml"),
        ("doc.xhtml", None),
    ],
)
def test_pages_are_published_as_bytes_so_inline_never_renders_them(client, filename, content_type):
    body = b"<html><script>document.title='ran'</script></html>"
    fields = {"size": len(body)} | ({"content_type": content_type} if content_type else {})
    answer = sign(client, filename, **fields)
    assert put(answer, body).ok
    assert complete(client, answer).get_json()["content_type"] == "application/octet-stream"
    for suffix in ("", "&inline", "&inline&filename=evil.html", "&filename=evil.html"):
        download = requests.get(answer["download_url"] + suffix, timeout=30)
        assert download.status_code == 200 and download.content == body
        assert download.headers["Content-Type"] == "application/octet-stream", suffix


# -- finality -----------------------------------------------------------------------------------
@pytest.fixture
def hooked(env: dict[str, str]) -> Iterator[tuple[FlaskClient, Recording]]:
    with receiving(204) as receiver:
        app: Flask = create_app(
            env | {"UPLOAD_WEBHOOK_URL": receiver.url, "WEBHOOK_SECRET": "w" * 32}
        )
        yield app.test_client(), receiver


def _events(receiver: Recording, runtime: Runtime) -> list[dict]:
    assert runtime.webhooks.join(30)
    return [json.loads(body) for body in receiver.bodies]


@pytest.mark.parametrize("through", ["put", "form"])
def test_a_write_after_completion_never_changes_what_is_served(hooked, through):
    client, receiver = hooked
    answer = sign(client, size=8)
    assert put(answer, b"original").status_code == 201
    first = complete(client, answer).get_json()
    # The URLs handed out are still valid: the uploader writes other bytes of the same size.
    rewrite = put(answer, b"replaced") if through == "put" else post_form(answer, b"replaced")
    assert rewrite.status_code == 201
    download = requests.get(answer["download_url"], timeout=30)
    assert download.content != b"replaced"
    assert download.status_code == 409  # the manifest pins the etag: it fails, serves nothing
    again = complete(client, answer).get_json()
    assert {k: again[k] for k in ("size", "etag", "content_type")} == {
        k: first[k] for k in ("size", "etag", "content_type")
    }
    events = _events(receiver, Runtime.of(client.application))
    assert [e["etag"] for e in events] == [hashlib.md5(b"original").hexdigest()]  # noqa: S324


def test_a_completed_upload_deleted_since_is_never_published_again(client):
    answer = sign(client, size=2)
    assert put(answer, b"ok").status_code == 201
    assert complete(client, answer).status_code == 200
    Runtime.of(client.application).storage.store.delete_object("uploads", answer["object_name"])
    assert_problem(complete(client, answer), 410, "deleted")
    assert requests.get(answer["download_url"], timeout=30).status_code == 404


def test_after_an_abort_nothing_is_served_and_gc_removes_what_still_lands(client, env):
    answer = sign(client, size=4)
    assert put(answer, b"once").status_code == 201
    assert client.delete(f"/uploads/{answer['upload_id']}", headers=AUTH).status_code == 204
    assert staged(client, answer) is None
    # Its URLs still write until they expire, and still nothing is served or published.
    assert put(answer, b"more").status_code == 201
    assert post_form(answer, b"form").status_code == 201
    assert_problem(complete(client, answer), 404, "aborted")
    assert requests.get(answer["download_url"], timeout=30).status_code == 404
    store = Runtime.of(client.application).storage.store
    settings = Runtime.of(client.application).settings
    report = gc_module.collect_garbage(store, settings, older_than=7 * 86_400)  # any age
    assert report.uploads_aborted >= 1
    left = store.list_objects(SEGMENTS, prefix=answer["object_name"] + "/")
    assert [entry["name"].rsplit("/", 1)[1] for entry in left] == ["aborted"]


def test_gc_removes_single_uploads_never_completed(client, env):
    answer = sign(client, size=5)
    assert put(answer, b"stale").status_code == 201
    done = sign(client, size=4)
    assert put(done, b"kept").status_code == 201
    assert complete(client, done).status_code == 200
    # Its form still works until it expires, and stores other names under its prefix.
    for name in ("2", "1-again"):
        extra = done | {"upload_form": done["upload_form"] | {"file_name": name}}
        assert post_form(extra, b"junk").status_code == 201
    runtime = Runtime.of(client.application)
    report = gc_module.collect_garbage(runtime.storage.store, runtime.settings, older_than=-60)
    assert report.uploads_removed >= 1
    assert staged(client, answer) is None
    assert staged(client, done) is not None  # a published upload's data
    left = runtime.storage.store.list_objects(SEGMENTS, prefix=done["object_name"] + "/")
    assert [entry["name"].rsplit("/", 1)[1] for entry in left] == ["000001", "completed"]
    assert requests.get(done["download_url"], timeout=30).content == b"kept"


# -- segmented uploads ----------------------------------------------------------------------------
@pytest.fixture
def segmented(env: dict[str, str]) -> FlaskClient:
    return create_app(env | {"SEGMENT_THRESHOLD": "1 MiB", "SEGMENT_SIZE": "1 MiB"}).test_client()


def _upload_parts(client: FlaskClient, data: bytes) -> dict:
    answer = sign(client, "big.bin", size=len(data))
    assert answer["segmented"] and answer["part_count"] == 3
    for part in answer["parts"]:
        chunk = data[part["offset"] : part["offset"] + part["length"]]
        assert requests.put(part["upload_url"], data=chunk, timeout=60).status_code == 201
    return answer


def test_a_part_bigger_than_its_slot_is_deleted_at_completion(segmented):
    data = os.urandom(2 * MIB + 100)
    answer = _upload_parts(segmented, data)
    oversized = requests.put(answer["parts"][0]["upload_url"], data=os.urandom(3 * MIB), timeout=60)
    assert oversized.status_code == 201
    response = complete(segmented, answer)
    assert_problem(response, 409, "1 of the wrong size")
    assert response.get_json()["missing_parts"] == [1]
    store = Runtime.of(segmented.application).storage.store
    assert store.head_object(SEGMENTS, segment_name(answer["object_name"], 1)) is None


def test_no_part_url_is_signed_after_completion_and_a_tampered_part_fails(segmented):
    data = os.urandom(2 * MIB + 100)
    answer = _upload_parts(segmented, data)
    assert complete(segmented, answer).status_code == 200
    assert requests.get(answer["download_url"], timeout=60).content == data
    parts = segmented.get(f"/uploads/{answer['upload_id']}/parts?from=1", headers=AUTH)
    assert_problem(parts, 409, "completed")
    status = segmented.get(f"/uploads/{answer['upload_id']}", headers=AUTH).get_json()
    assert status["completed"] is True
    # Part URLs handed out before still write: the download then fails, never other bytes.
    last = answer["parts"][-1]
    assert requests.put(last["upload_url"], data=b"y" * last["length"], timeout=60).ok
    with pytest.raises(requests.exceptions.ChunkedEncodingError):  # cut before the last part
        requests.get(answer["download_url"], timeout=60)
    first = answer["parts"][0]
    assert requests.put(first["upload_url"], data=b"y" * first["length"], timeout=60).ok
    tampered = requests.get(answer["download_url"], timeout=60)
    assert tampered.status_code == 409 and b"y" * 64 not in tampered.content
    assert complete(segmented, answer).get_json()["size"] == len(data)


def test_the_status_lists_each_stored_part_with_its_etag_and_size(client):
    answer = sign(client, size=5)
    status = client.get(f"/uploads/{answer['upload_id']}", headers=AUTH).get_json()
    assert (status["parts"], status["missing_parts"]) == ([], [1])
    assert put(answer, b"hello").status_code == 201
    status = client.get(f"/uploads/{answer['upload_id']}", headers=AUTH).get_json()
    md5 = hashlib.md5(b"hello").hexdigest()  # noqa: S324
    assert status["parts"] == [{"number": 1, "etag": md5, "size": 5}]
    assert (status["stored_parts"], status["completed"]) == ([1], False)


def test_an_empty_file_is_published_by_the_service_itself(client):
    answer = sign(client, "empty.txt", size=0)
    assert put(answer, b"").status_code == 201
    done = complete(client, answer).get_json()
    assert (done["size"], done["etag"]) == (0, hashlib.md5(b"").hexdigest())  # noqa: S324
    download = requests.get(answer["download_url"], timeout=30)
    assert (download.status_code, download.content) == (200, b"")
    assert "x-static-large-object" not in {name.lower() for name in download.headers}
    assert complete(client, answer).get_json()["etag"] == done["etag"]  # repeated: the same
