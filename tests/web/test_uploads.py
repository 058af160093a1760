"""POST /uploads against the real embedded Swift: sign, PUT the bytes, GET them back."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import pytest
import requests

from app.web.runtime import Runtime
from tests.support.constants import ALLOWED_ORIGIN


def put(answer: dict, data: bytes) -> requests.Response:
    return requests.put(
        answer["upload_url"], data=data, headers=answer["upload_headers"], timeout=30
    )


def test_signed_urls_round_trip_the_bytes(sign, complete):
    answer = sign("report.pdf", content_type="application/pdf", size=5)
    assert answer["upload_method"] == "PUT"
    assert str(UUID(answer["object_name"], version=4)) == answer["object_name"]
    assert answer["upload_headers"] == {"Content-Type": "application/pdf"}
    assert put(answer, b"%PDF-").status_code == 201
    complete(answer)
    download = requests.get(answer["download_url"], timeout=30)
    assert download.status_code == 200
    assert download.content == b"%PDF-"
    assert download.headers["Content-Type"] == "application/pdf"
    assert 'filename="report.pdf"' in download.headers["Content-Disposition"]


@pytest.mark.parametrize(
    ("filename", "encoded"),
    [
        ("rapport final é.txt", "rapport%20final%20%C3%A9.txt"),
        ('say "hi" & bye.txt', "say%20%22hi%22%20%26%20bye.txt"),
        (
            "日本語 ファイル.bin",
            "%E6%97%A5%E6%9C%AC%E8%AA%9E%20%E3%83%95%E3%82%A1%E3%82%A4%E3%83%AB.bin",
        ),
    ],
)
def test_download_names_survive_unicode_spaces_and_quotes(sign, complete, filename, encoded):
    answer = sign(filename)
    assert parse_qs(urlsplit(answer["download_url"]).query)["filename"] == [filename]
    assert put(answer, b"x").status_code == 201
    complete(answer)
    download = requests.get(answer["download_url"], timeout=30)
    assert download.status_code == 200
    assert f"filename*=UTF-8''{encoded}" in download.headers["Content-Disposition"]


def test_every_call_gets_a_fresh_object_and_absolute_urls(sign, swift):
    first, second = sign(), sign()
    assert first["object_name"] != second["object_name"]
    account, name = f"{swift.url}/v1/AUTH_local", first["object_name"]
    # Uploads land beside the parts of segmented ones; completion publishes the download.
    assert first["upload_url"].startswith(f"{account}/uploads_segments/{name}/000001?")
    assert first["download_url"].startswith(f"{account}/uploads/{name}?")
    assert first["upload_form"]["url"] == f"{account}/uploads_segments/{name}/00000"


def test_expires_at_is_iso8601_utc_about_the_ttl_away(sign):
    before = int(time.time())
    answer = sign()
    after = int(time.time())
    expires = datetime.strptime(answer["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before + 900 <= expires.timestamp() <= after + 900  # the TTL from the signing
    query = parse_qs(urlsplit(answer["upload_url"]).query)
    assert int(query["temp_url_expires"][0]) == int(expires.timestamp())


def test_content_type_is_guessed_from_the_name_when_not_given(sign):
    assert sign("photo.png")["upload_headers"] == {"Content-Type": "image/png"}
    assert sign("noextension")["upload_headers"] == {"Content-Type": "application/octet-stream"}


def test_a_wrong_etag_stores_nothing(sign):
    answer = sign()
    response = requests.put(
        answer["upload_url"],
        data=b"abc",
        headers=answer["upload_headers"] | {"ETag": "0" * 32},
        timeout=30,
    )
    assert response.status_code == 422
    assert requests.get(answer["download_url"], timeout=30).status_code == 404


def _replace_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return parts._replace(query="&".join(f"{k}={v}" for k, v in query.items())).geturl()


def test_storage_refuses_tampered_other_object_and_wrong_method_urls(sign):
    answer, other = sign(), sign()
    sig = parse_qs(urlsplit(answer["upload_url"]).query)["temp_url_sig"][0]
    tampered = _replace_query(
        answer["upload_url"], temp_url_sig=("0" if sig[0] != "0" else "1") + sig[1:]
    )
    assert requests.put(tampered, data=b"x", timeout=30).status_code == 401
    # The signature of one object does not open another.
    other_object = other["upload_url"].split("?")[0] + "?" + answer["upload_url"].split("?")[1]
    assert requests.put(other_object, data=b"x", timeout=30).status_code == 401
    # A later expiry breaks the signature too.
    later = _replace_query(answer["upload_url"], temp_url_expires=str(int(time.time()) + 99999))
    assert requests.put(later, data=b"x", timeout=30).status_code == 401
    # The upload URL cannot read, the download URL cannot write.
    assert requests.get(answer["upload_url"], timeout=30).status_code == 401
    assert requests.put(answer["download_url"], data=b"x", timeout=30).status_code == 401


def test_storage_refuses_an_expired_url(env):
    from app import create_app

    client = create_app(env | {"TEMPURL_TTL": "1"}).test_client()
    answer = client.post(
        "/uploads",
        json={"filename": "late.txt"},
        headers={"Authorization": f"Bearer {env['API_TOKENS']}"},
    ).get_json()
    expires = int(parse_qs(urlsplit(answer["upload_url"]).query)["temp_url_expires"][0])
    # Accepted until it expires (then refused), whenever the machine gets to each attempt.
    while (status := put(answer, b"late").status_code) != 401:
        assert status == 201, status
        assert time.time() < expires + 30, "the expired URL was still accepted"
        time.sleep(0.2)
    # The refusal came after the expiry: storage refused the expired URL, not a bad signature.
    assert time.time() > expires


@pytest.mark.parametrize("digest", ["sha1", "sha512"])
def test_other_digests_sign_urls_swift_accepts(env, digest):
    from app import create_app

    client = create_app(env | {"TEMPURL_DIGEST": digest}).test_client()
    auth = {"Authorization": f"Bearer {env['API_TOKENS']}"}
    answer = client.post("/uploads", json={"filename": "d.txt"}, headers=auth).get_json()
    sig = parse_qs(urlsplit(answer["upload_url"]).query)["temp_url_sig"][0]
    assert sig.startswith("sha512:") if digest == "sha512" else len(sig) == 40
    assert put(answer, b"digest").status_code == 201
    assert client.post(f"/uploads/{answer['upload_id']}/complete", headers=auth).status_code == 200
    assert requests.get(answer["download_url"], timeout=30).content == b"digest"


def test_container_cors_allows_the_configured_origin_only(sign, swift):
    answer = sign()
    preflight = {
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type",
    }
    allowed = requests.options(
        answer["upload_url"], headers=preflight | {"Origin": ALLOWED_ORIGIN}, timeout=30
    )
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "content-type" in allowed.headers["Access-Control-Allow-Headers"].lower()
    other = requests.options(
        answer["upload_url"], headers=preflight | {"Origin": "http://evil.example"}, timeout=30
    )
    assert other.status_code == 401
    assert "Access-Control-Allow-Origin" not in other.headers


def test_container_metadata_lists_origins_space_separated_and_exposes_etag(env, swift):
    from app import create_app

    origins = "http://a.example:1,https://b.example"
    state = Runtime.of(create_app(env | {"CORS_ORIGINS": origins})).storage
    meta = state.store.container_metadata("uploads")
    assert (
        meta["x-container-meta-access-control-allow-origin"]
        == "http://a.example:1 https://b.example"
    )
    assert meta["x-container-meta-access-control-expose-headers"] == "etag"
    create_app(env)  # put the session's origin back for the other tests


def test_api_cors_preflight_is_answered_for_configured_origins(client):
    response = client.options(
        "/uploads",
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    denied = client.options(
        "/uploads",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in denied.headers


def test_api_cors_preflight_allows_a_page_to_abort_its_upload(client):
    """A browser must be allowed DELETE /uploads/<id>, or its cancel cannot remove segments."""
    response = client.options(
        "/uploads/some-upload-id",
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "DELETE",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "DELETE" in response.headers["Access-Control-Allow-Methods"].split(", ")


def test_through_gunicorn_with_curl_like_clients(api_server, http):
    response = http.post(
        api_server.url + "/uploads",
        json={"filename": "via gunicorn.txt"},
        headers={"Authorization": f"Bearer {'test-token-0123456789abcdef'}"},
        timeout=30,
    )
    assert response.status_code == 201
    answer = response.json()
    stored = http.put(answer["upload_url"], data=b"gunicorn", headers=answer["upload_headers"])
    assert stored.status_code == 201
    completed = http.post(
        f"{api_server.url}/uploads/{answer['upload_id']}/complete",
        headers={"Authorization": f"Bearer {'test-token-0123456789abcdef'}"},
        timeout=30,
    )
    assert completed.status_code == 200
    download = http.get(answer["download_url"])
    assert download.content == b"gunicorn"
    assert 'filename="via gunicorn.txt"' in download.headers["Content-Disposition"]
    assert http.get(api_server.url + "/readyz").json() == {
        "status": "ready",
        "container": "uploads",
    }
