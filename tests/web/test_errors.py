"""Each status code the API answers: problem+json with the right status, never HTML or a traceback.

Hostile input (deep or broken JSON, names, headers) is in test_hostile.py.
"""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.web.runtime import Runtime
from tests.support.constants import TOKEN
from tests.support.problems import assert_problem


def post(
    client: FlaskClient, body: object = None, *, headers: dict | None = None, **kw
) -> TestResponse:
    headers = {"Authorization": f"Bearer {TOKEN}"} | (headers or {})
    if body is not None:
        kw["json"] = body
    return client.post("/uploads", headers=headers, **kw)


# -- 200 ----------------------------------------------------------------------------------------
def test_healthz_needs_no_token(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


# -- 400 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "filename"),
        ({"filename": None}, "filename"),
        ({"filename": 7}, "filename"),
        ({"filename": True}, "filename"),
        ({"filename": ["a"]}, "filename"),
        ({"filename": {"a": 1}}, "filename"),
        ({"filename": "a.txt", "content_type": 5}, "content_type"),
        ({"filename": "a.txt", "content_type": "text/html\r\nX-Evil: 1"}, "content_type"),
        ({"filename": "a.txt", "content_type": "nonsense"}, "content_type"),
        ({"filename": "a.txt", "content_type": "a/" + "b" * 300}, "content_type"),
        ({"filename": "a.txt", "size": "12"}, "size"),
        ({"filename": "a.txt", "size": 1.5}, "size"),
        ({"filename": "a.txt", "size": True}, "size"),
        ({"filename": "a.txt", "size": -1}, "size"),
    ],
)
def test_missing_or_wrong_fields_are_400_naming_the_field(client, body, field):
    body = assert_problem(post(client, body), 400, f"'{field}'")
    assert body["invalid_params"] == [field]


# -- 401 ----------------------------------------------------------------------------------------
def test_missing_token_is_401_with_a_bearer_challenge(client):
    response = client.post("/uploads", json={"filename": "a.txt"})
    assert_problem(response, 401, "Bearer")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header", ["Bearer wrong-token-0123456789", "Basic dXNlcjpwYXNz", "Bearer", TOKEN]
)
def test_invalid_token_is_401(client, header):
    response = client.post(
        "/uploads", json={"filename": "a.txt"}, headers={"Authorization": header}
    )
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_token_is_checked_before_the_body(client):
    response = client.post("/uploads", data="not json", headers={"Authorization": "Bearer nope"})
    assert_problem(response, 401)


# -- 404, 405 -----------------------------------------------------------------------------------
def test_unknown_path_is_404(client):
    assert_problem(client.get("/nope"), 404, "/nope")


def test_wrong_method_is_405_with_allow(client):
    response = client.get("/uploads")
    assert_problem(response, 405, "GET")
    assert "POST" in response.headers["Allow"]


# -- 413 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    ['{"filename": "' + "a" * 70_000 + '"}', '{"filename": "a", "pad": "' + "x" * 70_000 + '"}'],
    ids=["long-name", "extra-field"],
)
def test_body_over_64_kib_is_413(client, body):
    response = post(client, data=body, content_type="application/json")
    assert_problem(response, 413, "64 KiB")


# -- 415 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
        None,
    ],
    ids=["text", "form", "multipart", "empty", "none"],
)
def test_non_json_body_is_415(client, content_type):
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = post(client, data='{"filename": "a.txt"}', headers=headers)
    assert_problem(response, 415, "application/json")


# -- 500 ----------------------------------------------------------------------------------------
def test_unexpected_errors_are_a_json_500_without_details(app, client, caplog, monkeypatch):
    import app.web.uploads as api

    def explode() -> None:
        raise RuntimeError("secret-detail-abc")

    monkeypatch.setattr(api, "upload_requests", explode)
    response = post(client, {"filename": "a.txt"})
    body = assert_problem(response, 500)
    assert "secret-detail-abc" not in str(body)
    assert "secret-detail-abc" not in caplog.text
    assert "RuntimeError" in caplog.text


# -- 503 ----------------------------------------------------------------------------------------
def test_storage_not_ready_is_503_with_retry_after(app, client):
    state = Runtime.of(app).storage
    state.prepared, state.problem = None, "storage unreachable"
    state._retrying = True  # keep the background retry from repairing it during the test
    response = post(client, {"filename": "a.txt"})
    assert_problem(response, 503, "storage unreachable")
    assert int(response.headers["Retry-After"]) > 0
    ready = client.get("/readyz")
    assert_problem(ready, 503, "storage unreachable")
    assert int(ready.headers["Retry-After"]) > 0
