"""What gunicorn itself reads: chunked bodies over the limit, and the request line and headers."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from app import MAX_REQUEST_BYTES
from tests.support.constants import TOKEN
from tests.support.problems import assert_problem

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def chunked(body: bytes, size: int = 4096) -> Iterator[bytes]:
    """``requests`` sends a generator body with ``Transfer-Encoding: chunked``, no length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def padded(total: int) -> bytes:
    """A valid upload request of ``total`` bytes: whitespace after the object is still JSON, so
    a body cut at the limit would be read as a good request."""
    head = json.dumps({"filename": "a.txt", "size": 4}).encode()
    return head + b" " * (total - len(head))


@pytest.mark.parametrize("total", [MAX_REQUEST_BYTES + 1, 4 * MAX_REQUEST_BYTES])
def test_a_chunked_body_over_64_kib_is_413(api_server, total):
    answer = requests.post(
        api_server.url + "/uploads",
        data=chunked(padded(total)),
        headers=AUTH | {"Content-Type": "application/json"},
        timeout=10,
    )
    assert "Content-Length" not in answer.request.headers
    assert answer.request.headers["Transfer-Encoding"] == "chunked"
    assert_problem(answer, 413, "64 KiB")


def test_a_chunked_body_at_64_kib_is_read_whole(api_server):
    answer = requests.post(
        api_server.url + "/uploads",
        data=chunked(padded(MAX_REQUEST_BYTES)),
        headers=AUTH | {"Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text[:300]


def test_a_chunked_completion_body_over_64_kib_is_413(api_server):
    """The completion's optional body is read the same way."""
    created = requests.post(
        api_server.url + "/uploads", json={"filename": "a.txt"}, headers=AUTH, timeout=10
    ).json()
    body = json.dumps({"parts": []}).encode()
    answer = requests.post(
        f"{api_server.url}/uploads/{created['upload_id']}/complete",
        data=chunked(body + b" " * MAX_REQUEST_BYTES),
        headers=AUTH | {"Content-Type": "application/json"},
        timeout=10,
    )
    assert_problem(answer, 413, "64 KiB")
