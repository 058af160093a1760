"""What gunicorn itself reads: chunked bodies over the limit, and the request line and headers."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
import requests

from app import MAX_REQUEST_BYTES
from tests.support.constants import TOKEN
from tests.support.problems import assert_problem
from tests.support.servers import ApiServer

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


def raw(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as it is on a new connection; the status, headers and body answered."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


@pytest.fixture(scope="module", params=["production", "app.web.worker.ProblemSyncWorker"])
def problem_server(request, swift) -> Iterator[ApiServer]:
    """gunicorn as gunicorn.conf.py runs it (gthread), and with the sync variant of the worker."""
    env = swift.env | {"API_TOKENS": TOKEN}
    if request.param != "production":
        # One thread: with more, gunicorn runs gthread whatever the worker class says.
        env["GUNICORN_CMD_ARGS"] = f"--worker-class {request.param} --threads 1"
    with ApiServer(env, workers=1) as server:
        yield server


LONG_LINE = b"GET /healthz?" + b"a" * 8200 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
MANY_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 101 + b"\r\n"
BIG_HEADER = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: " + b"b" * 8200 + b"\r\n\r\n"
BAD_LINE = b"GET /healthz?token=secret-in-the-line HTTP/9\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [(LONG_LINE, 414), (MANY_HEADERS, 431), (BIG_HEADER, 431), (BAD_LINE, 400)],
    ids=["line-too-long", "too-many-headers", "header-too-large", "bad-request-line"],
)
def test_what_gunicorn_refuses_is_problem_json(problem_server, request_bytes, status):
    answer_status, headers, body = raw(problem_server.url, request_bytes)
    assert answer_status == status, body[:300]
    assert headers["content-type"] == "application/problem+json"
    assert int(headers["content-length"]) == len(body)
    problem = json.loads(body)
    assert problem["status"] == status and problem["type"] and problem["title"]
    assert b"secret-in-the-line" not in body and b"aaaa" not in body
    # The worker is still serving.
    assert requests.get(problem_server.url + "/healthz", timeout=5).ok


def test_plain_gunicorn_refuses_with_html(swift):
    """What a deployment with gunicorn's own worker answers (docs/operations.md)."""
    env = swift.env | {"API_TOKENS": TOKEN, "GUNICORN_CMD_ARGS": "--worker-class gthread"}
    with ApiServer(env, workers=1) as plain:
        answer_status, headers, _ = raw(plain.url, LONG_LINE)
    assert (answer_status, headers["content-type"]) == (414, "text/html")
