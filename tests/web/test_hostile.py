"""Hostile input: huge or deep JSON, wrong types, unicode edge cases, header injection."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
from werkzeug.http import parse_options_header

from app.uploads.filenames import clean_filename

NEVER_500 = range(400, 500)


def post_raw(client, auth, data: bytes | str, content_type: str = "application/json"):
    return client.post("/uploads", data=data, headers=auth | {"Content-Type": content_type})


def assert_problem(response, status: int) -> None:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and "Traceback" not in body["detail"]


def test_a_body_over_64_kib_gets_413(client, auth):
    body = json.dumps({"filename": "a", "pad": "x" * 70_000})
    assert_problem(post_raw(client, auth, body), 413)


@pytest.mark.parametrize(
    "body",
    [
        "[" * 32_000 + "]" * 32_000,
        '{"filename": "a", "x": ' + "[" * 30_000 + "]" * 30_000 + "}",
        '{"filename": "a", "x": ' + '{"a":' * 10_000 + "1" + "}" * 10_000 + "}",
    ],
    ids=["deep-array", "deep-array-inside", "deep-object-inside"],
)
def test_deeply_nested_json_gets_400(client, auth, body):
    assert_problem(post_raw(client, auth, body), 400)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{",
        b"null",
        b"[]",
        b'"a"',
        b"1",
        b"\xff\xfe{}",
        b'{"filename": "\xff"}',
        b"NaN",
        b'{"filename": "a"} trailing',
    ],
)
def test_malformed_or_non_object_bodies_get_400(client, auth, data):
    assert_problem(post_raw(client, auth, data), 400)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""],
)
def test_non_json_bodies_get_415(client, auth, content_type):
    assert_problem(post_raw(client, auth, '{"filename": "a"}', content_type), 415)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filename": ["a"]}, "filename"),
        ({"filename": {"a": 1}}, "filename"),
        ({"filename": 1}, "filename"),
        ({"filename": True}, "filename"),
        ({"filename": None}, "filename"),
        ({}, "filename"),
        ({"filename": "a", "size": "12"}, "size"),
        ({"filename": "a", "size": -1}, "size"),
        ({"filename": "a", "size": 1.5}, "size"),
        ({"filename": "a", "size": True}, "size"),
        ({"filename": "a", "content_type": 5}, "content_type"),
        ({"filename": "a", "content_type": "text/html\r\nX-Evil: 1"}, "content_type"),
        ({"filename": "a", "content_type": "nonsense"}, "content_type"),
        ({"filename": "a", "content_type": "a/" + "b" * 300}, "content_type"),
    ],
)
def test_wrong_types_and_values_get_400_naming_the_field(client, auth, body, field):
    response = client.post("/uploads", json=body, headers=auth)
    assert_problem(response, 400)
    assert response.get_json()["invalid_params"] == [field]


def test_huge_numbers_are_handled(client, auth):
    # Beyond 1000 parts of the store's largest object: refused before anything is signed.
    huge = client.post("/uploads", json={"filename": "a", "size": 10**100}, headers=auth)
    assert_problem(huge, 413)
    assert "too large for this store" in huge.get_json()["detail"]
    assert (
        client.post("/uploads", json={"filename": "a", "size": 5.0}, headers=auth).status_code
        == 201
    )
    assert_problem(post_raw(client, auth, '{"filename": "a", "size": 1e400}'), 400)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("e\u0301te\u0301.txt", "\u00e9t\u00e9.txt"),  # NFD becomes NFC
        ("evil\u202egpj.exe", "evilgpj.exe"),  # right-to-left override dropped
        ("\ufeffbom.txt", "bom.txt"),
        ("a\u2028b.txt", "ab.txt"),
        ("nul\x00byte.txt", "nulbyte.txt"),
        (
            "\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67.png".encode(
                "utf-16", "surrogatepass"
            ).decode("utf-16"),
            "\U0001f468\u200d\U0001f469\u200d\U0001f467.png",
        ),  # ZWJ emoji kept whole
        ("C:\\Users\\me\\photo.jpg", "photo.jpg"),
        ("../../etc/passwd", "passwd"),
        ("\uff0e\uff0e\uff0fx", "\uff0e\uff0e\uff0fx"),  # full-width look-alikes are just letters
        ("lone\udc80surrogate", "lonesurrogate"),
    ],
)
def test_unicode_edge_cases_are_cleaned(raw, clean):
    assert clean_filename(raw) == clean


@pytest.mark.parametrize(
    "name", ["", " ", ".", "..", "...", "dir/", "a/..", "\u202e", "\x00\x01", "\ud800"]
)
def test_names_that_clean_to_nothing_get_400(client, auth, name):
    response = client.post(
        "/uploads",
        data=json.dumps({"filename": name}),
        headers=auth | {"Content-Type": "application/json"},
    )
    assert_problem(response, 400)


def test_name_length_is_255_characters_even_in_4_byte_letters(client, auth):
    emoji = "\U0001f600"
    assert client.post("/uploads", json={"filename": emoji * 255}, headers=auth).status_code == 201
    response = client.post("/uploads", json={"filename": emoji * 256}, headers=auth)
    assert_problem(response, 400)


@pytest.mark.parametrize(
    "name",
    [
        "a\r\nX-Injected: 1.txt",
        "a%0d%0aX-Injected: 1.txt",
        'a"; filename="evil.exe',
        'a"\r\nContent-Type: text/html\r\n\r\n<script>.txt',
        "a&inline=1&temp_url_sig=0.txt",
        "a#frag?x=1.txt",
        "a; inline.txt",
        "\u00e9\u00e8 \"q\" '\u65e5'.txt",
    ],
)
def test_no_name_breaks_the_url_or_injects_a_header(sign, name):
    answer = sign(name)
    query = parse_qs(urlsplit(answer["download_url"]).query)
    assert set(query) == {"temp_url_sig", "temp_url_expires", "filename"}
    assert query["filename"] == [answer["filename"]]
    assert (
        requests.put(
            answer["upload_url"], data=b"x", headers=answer["upload_headers"], timeout=30
        ).status_code
        == 201
    )
    download = requests.get(answer["download_url"], timeout=30)
    assert download.status_code == 200 and download.content == b"x"
    assert "X-Injected" not in download.headers
    assert download.headers["Content-Type"] != "text/html"
    disposition, params = parse_options_header(download.headers["Content-Disposition"])
    assert disposition == "attachment"
    assert params["filename"] == answer["filename"]  # RFC 2231/5987 filename* decoded
    assert (
        unquote(download.headers["Content-Disposition"].split("filename*=UTF-8''")[1])
        == answer["filename"]
    )


def test_hostile_authorization_headers_get_401(client):
    for header in ("Bearer " + "a" * 10_000, "Bearer a b c", "bearer\tx", "Bearer \x00" + "a" * 20):
        response = client.post(
            "/uploads", json={"filename": "a"}, headers={"Authorization": header}
        )
        assert_problem(response, 401)
