"""Upload policy against the real embedded Swift: size, types, prefixes, IP binding, expiry."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from app import create_app
from app.settings.parsers import ConfigError
from app.settings.service import Settings
from app.uploads.policy import content_type_allowed, subject_prefix
from app.web.runtime import Runtime
from tests.support.constants import TOKEN
from tests.support.problems import assert_problem

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def client_for(env, **settings: str):
    return create_app(env | settings).test_client()


def sign(client, **body):
    return client.post("/uploads", json={"filename": "f.bin"} | body, headers=AUTH)


def put(answer: dict, data: bytes, url: str | None = None) -> requests.Response:
    return requests.put(
        url or answer["upload_url"], data=data, headers=answer["upload_headers"], timeout=30
    )


def test_a_declared_size_above_the_limit_gets_413_before_signing(env):
    client = client_for(env, MAX_UPLOAD_SIZE="1K")
    assert sign(client, size=1024).status_code == 201
    too_big = sign(client, size=1025)
    assert_problem(too_big, 413)
    assert too_big.get_json()["max_upload_size"] == 1024
    assert "upload_url" not in too_big.get_json()
    # With a limit, the size must be declared: an undeclared size cannot be checked.
    missing = sign(client)
    assert missing.status_code == 400
    assert missing.get_json()["invalid_params"] == ["size"]


@pytest.mark.parametrize(
    ("content_type", "allowed"),
    [
        ("image/png", True),
        ("IMAGE/JPEG", True),
        ("image/svg+xml; charset=utf-8", True),
        ("application/pdf", True),
        ("application/pdf; x=1", True),
        ("application/zip", False),
        ("text/html", False),
        ("imagex/png", False),
    ],
)
def test_allowed_content_types_take_patterns(env, content_type, allowed):
    client = client_for(env, ALLOWED_CONTENT_TYPES="image/*, application/pdf")
    response = sign(client, content_type=content_type)
    assert response.status_code == (201 if allowed else 415), response.get_json()
    if not allowed:
        assert response.get_json()["allowed_content_types"] == ["image/*", "application/pdf"]


def test_a_guessed_content_type_is_checked_too(env):
    client = client_for(env, ALLOWED_CONTENT_TYPES="image/*")
    assert sign(client, filename="photo.png").status_code == 201
    assert sign(client, filename="page.html").status_code == 415
    assert sign(client, filename="no-extension").status_code == 415  # application/octet-stream


def test_content_type_matching_rules():
    assert content_type_allowed((), "anything/at-all")
    assert content_type_allowed(("*/*",), "text/plain")
    assert not content_type_allowed(("text/plain",), "text/plainx")


@pytest.mark.parametrize("value", ["image", "*/png", "image/png/x", "text/*;q=1"])
def test_bad_content_type_patterns_stop_start_up(swift, value):
    with pytest.raises(ConfigError, match="ALLOWED_CONTENT_TYPES"):
        Settings.from_env(swift.env | {"API_TOKENS": TOKEN, "ALLOWED_CONTENT_TYPES": value})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TEMPURL_TTL", "0"),
        ("TEMPURL_TTL", "86401"),
        ("DOWNLOAD_TTL", "604801"),
        ("MAX_UPLOAD_SIZE", "0"),
        ("MAX_UPLOAD_SIZE", "lots"),
        ("UPLOAD_EXPIRE_AFTER", "0"),
        ("TRUSTED_PROXIES", "-1"),
        ("UPLOAD_BIND_IP", "maybe"),
        ("RATE_LIMIT", "fast"),
        ("RATELIMIT_STORAGE_URI", "http://127.0.0.1:1"),
    ],
)
def test_out_of_bounds_policy_settings_stop_start_up(swift, name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(swift.env | {"API_TOKENS": TOKEN, name: value})


def test_sizes_take_units(swift):
    settings = Settings.from_env(swift.env | {"API_TOKENS": TOKEN, "MAX_UPLOAD_SIZE": "5 MiB"})
    assert settings.security.policy.max_upload_size == 5 * 1024**2


def test_subject_prefixes_put_each_subject_under_its_own_prefix(env):
    client = client_for(
        env,
        API_TOKENS=f"alice:{'a' * 20},{TOKEN}",
        UPLOAD_SUBJECT_PREFIX="true",
    )
    alice = {"Authorization": f"Bearer {'a' * 20}"}
    answer = client.post("/uploads", json={"filename": "x.txt"}, headers=alice).get_json()
    assert answer["object_name"].startswith("alice/")
    assert put(answer, b"mine").status_code == 201
    assert client.post(f"/uploads/{answer['upload_id']}/complete", headers=alice).status_code == 200
    assert requests.get(answer["download_url"], timeout=30).content == b"mine"
    # The upload URL is signed for that one object only, not the whole prefix.
    sibling = answer["upload_url"].replace(answer["object_name"], "alice/other")
    assert put(answer, b"x", sibling).status_code == 401


@pytest.mark.parametrize(
    ("subject", "readable"),
    [
        ("alice", True),
        ("user@example.com", True),
        ("auth0|123", False),
        ("..", False),
        ("a/b", False),
        ("x" * 65, False),
        ("~h", False),
    ],
)
def test_prefixes_are_one_safe_path_segment(subject, readable):
    prefix = subject_prefix(subject)
    assert prefix.endswith("/") and "/" not in prefix[:-1]
    assert (prefix == subject + "/") is readable
    assert prefix[:-1] not in (".", "..")


def test_a_prefix_signature_covers_objects_under_the_prefix_only(env):
    app = create_app(env)
    signer = Runtime.of(app).storage.signer
    expires = int(time.time()) + 60
    url = signer.sign("PUT", "user42/a/b.txt", expires, prefix="user42/")
    assert parse_qs(urlsplit(url).query)["temp_url_prefix"] == ["user42/"]
    assert requests.put(url, data=b"1", timeout=30).status_code == 201
    other = url.replace("/user42/a/b.txt", "/user42/c.txt")
    assert requests.put(other, data=b"2", timeout=30).status_code == 201
    outside = url.replace("/user42/a/b.txt", "/user43/c.txt")
    assert requests.put(outside, data=b"3", timeout=30).status_code == 401


def test_ip_binding_signs_the_caller_address(env):
    client = client_for(env, UPLOAD_BIND_IP="true")
    answer = client.post(
        "/uploads",
        json={"filename": "x.txt"},
        headers=AUTH,
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    ).get_json()
    assert parse_qs(urlsplit(answer["upload_url"]).query)["temp_url_ip_range"] == ["127.0.0.1"]
    # Swift sees this test at 127.0.0.1: the bound URL works from here ...
    assert put(answer, b"bound").status_code == 201
    # ... and a URL bound to another address does not.
    elsewhere = client.post(
        "/uploads",
        json={"filename": "x.txt"},
        headers=AUTH,
        environ_base={"REMOTE_ADDR": "10.9.8.7"},
    ).get_json()
    assert put(elsewhere, b"stolen").status_code == 401
    # The download URL is not bound (it may be shared).
    assert "temp_url_ip_range" not in answer["download_url"]


def test_trusted_proxies_decide_which_forwarded_address_counts(env):
    forwarded = {"X-Forwarded-For": "203.0.113.9, 10.9.8.7"}
    proxied = {"REMOTE_ADDR": "127.0.0.1"}

    def bound_to(client) -> str:
        answer = client.post(
            "/uploads", json={"filename": "x"}, headers=AUTH | forwarded, environ_base=proxied
        ).get_json()
        return parse_qs(urlsplit(answer["upload_url"]).query)["temp_url_ip_range"][0]

    # No trusted proxy: the header is the client's word and is ignored.
    assert bound_to(client_for(env, UPLOAD_BIND_IP="true")) == "127.0.0.1"
    # One trusted hop: the address that proxy saw (last entry), never a spoofed first entry.
    assert bound_to(client_for(env, UPLOAD_BIND_IP="true", TRUSTED_PROXIES="1")) == "10.9.8.7"
    assert bound_to(client_for(env, UPLOAD_BIND_IP="true", TRUSTED_PROXIES="2")) == "203.0.113.9"


def test_upload_expire_after_makes_storage_delete_the_object(env):
    client = client_for(env, UPLOAD_EXPIRE_AFTER="1")
    answer = sign(client).get_json()
    assert answer["upload_headers"]["X-Delete-After"] == "1"
    assert put(answer, b"short-lived").status_code == 201
    assert requests.get(answer["download_url"], timeout=30).status_code in (200, 404)
    deadline = time.monotonic() + 10
    while requests.get(answer["download_url"], timeout=30).status_code != 404:
        assert time.monotonic() < deadline, "the object was not deleted"
        time.sleep(0.3)


def test_without_upload_expire_after_no_delete_header(sign):
    assert "X-Delete-After" not in sign()["upload_headers"]
