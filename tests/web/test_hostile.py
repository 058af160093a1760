"""Hostile input: deep, broken or odd JSON, names built to break URLs or headers, odd headers.

The ordinary answer of each status code is in test_errors.py.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
from werkzeug.http import parse_options_header

from app.uploads.filenames import clean_filename
from tests.support.problems import assert_problem

EMOJI = "\U0001f600"  # 4 bytes in UTF-8, 2 code units in UTF-16


def post_raw(client, auth, data: bytes | str, content_type: str = "application/json"):
    return client.post("/uploads", data=data, headers=auth | {"Content-Type": content_type})


# -- JSON ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        "[" * 32_000 + "]" * 32_000,
        '{"filename": "a", "x": ' + "[" * 30_000 + "]" * 30_000 + "}",
        '{"filename": "a", "x": ' + '{"a":' * 10_000 + "1" + "}" * 10_000 + "}",
    ],
    ids=["deep-array", "deep-array-inside", "deep-object-inside"],
)
def test_deeply_nested_json_is_400_not_500(client, auth, body):
    assert_problem(post_raw(client, auth, body), 400, "not valid JSON")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{",
        b"{not json",
        b"\xff\xfe{}",
        b'{"filename": "\xff"}',
        b'{"filename": "a"} trailing',
    ],
)
def test_malformed_json_is_400(client, auth, data):
    assert_problem(post_raw(client, auth, data), 400, "not valid JSON")


@pytest.mark.parametrize("data", [b"null", b"[]", b'"a.txt"', b"3", b"NaN"])
def test_json_that_is_not_an_object_is_400(client, auth, data):
    assert_problem(post_raw(client, auth, data), 400, "JSON object")


def test_huge_numbers_are_handled(client, auth):
    # Beyond 1000 parts of the store's largest object: refused before anything is signed.
    huge = client.post("/uploads", json={"filename": "a", "size": 10**100}, headers=auth)
    assert_problem(huge, 413, "too large for this store")
    assert (
        client.post("/uploads", json={"filename": "a", "size": 5.0}, headers=auth).status_code
        == 201
    )
    assert_problem(post_raw(client, auth, '{"filename": "a", "size": 1e400}'), 400, "'size'")


# -- names --------------------------------------------------------------------------------------
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
    "name", ["", " ", "   ", ".", "..", "...", "dir/", "a/..", "\u202e", "\x00\x01", "\ud800"]
)
def test_names_that_clean_to_nothing_are_400_naming_the_filename(client, auth, name):
    # json.dumps escapes the lone surrogate, which a client's own encoder would refuse.
    response = post_raw(client, auth, json.dumps({"filename": name}))
    body = assert_problem(response, 400, "'filename'")
    assert body["invalid_params"] == ["filename"]


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("\u00e9" * 251 + ".txt", True),
        (EMOJI * 255, True),
        (EMOJI * 256, False),
        ("x" * 256, False),
    ],
    ids=["255-accented", "255-emoji", "256-emoji", "256-ascii"],
)
def test_name_length_is_255_characters_even_in_4_byte_letters(client, auth, name, allowed):
    response = client.post("/uploads", json={"filename": name}, headers=auth)
    if allowed:
        assert response.status_code == 201, response.get_json()
    else:
        assert assert_problem(response, 400, "'filename'")["invalid_params"] == ["filename"]


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
def test_no_name_breaks_the_url_or_injects_a_header(sign, complete, name):
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
    complete(answer)
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


# -- headers ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "header",
    ["Bearer " + "a" * 10_000, "Bearer a b c", "bearer\tx", "Bearer \x00" + "a" * 20],
    ids=["10k-token", "spaces", "tab", "nul"],
)
def test_hostile_authorization_headers_are_401(client, header):
    response = client.post("/uploads", json={"filename": "a"}, headers={"Authorization": header})
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
