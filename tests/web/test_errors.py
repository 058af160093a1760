"""Every error is problem+json with the right status; never an HTML page or a traceback."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.web.runtime import Runtime
from tests.support.constants import TOKEN


def assert_problem(response: TestResponse, status: int, *detail_words: str) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert set(body) >= {"type", "title", "status", "detail"}
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    for word in detail_words:
        assert word in body["detail"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body


def post(
    client: FlaskClient, body: object = None, *, headers: dict | None = None, **kw
) -> TestResponse:
    headers = {"Authorization": f"Bearer {TOKEN}"} | (headers or {})
    if body is not None:
        kw["json"] = body
    return client.post("/uploads", headers=headers, **kw)


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


def test_malformed_json_is_400(client):
    response = post(client, data="{not json", content_type="application/json")
    assert_problem(response, 400, "not valid JSON")


def test_deeply_nested_json_is_400_not_500(client):
    response = post(client, data="[" * 30_000 + "]" * 30_000, content_type="application/json")
    assert_problem(response, 400, "not valid JSON")


@pytest.mark.parametrize("body", [[], "a.txt", 3, None])
def test_body_that_is_not_an_object_is_400(client, body):
    import json

    response = post(client, data=json.dumps(body), content_type="application/json")
    assert_problem(response, 400, "JSON object")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "filename"),
        ({"filename": None}, "filename"),
        ({"filename": 7}, "filename"),
        ({"filename": ["a"]}, "filename"),
        ({"filename": ""}, "filename"),
        ({"filename": "   "}, "filename"),
        ({"filename": "dir/"}, "filename"),
        ({"filename": "x" * 256}, "filename"),
        ({"filename": "a.txt", "content_type": 5}, "content_type"),
        ({"filename": "a.txt", "content_type": "text/plain\r\nX-Evil: 1"}, "content_type"),
        ({"filename": "a.txt", "content_type": "nonsense"}, "content_type"),
        ({"filename": "a.txt", "size": "12"}, "size"),
        ({"filename": "a.txt", "size": 1.5}, "size"),
        ({"filename": "a.txt", "size": True}, "size"),
        ({"filename": "a.txt", "size": -1}, "size"),
    ],
)
def test_missing_or_wrong_fields_are_400_naming_the_field(client, body, field):
    body = assert_problem(post(client, body), 400, f"'{field}'")
    assert body["invalid_params"] == [field]


def test_a_255_character_name_is_fine(client):
    assert post(client, {"filename": "é" * 251 + ".txt"}).status_code == 201


def test_non_json_body_is_415(client):
    response = post(client, data="filename=a.txt", content_type="application/x-www-form-urlencoded")
    assert_problem(response, 415, "application/json")
    assert_problem(post(client, data="{}"), 415)


def test_body_over_64_kib_is_413(client):
    response = post(
        client, data='{"filename": "' + "a" * 70_000 + '"}', content_type="application/json"
    )
    assert_problem(response, 413, "64 KiB")


def test_unknown_path_is_404(client):
    assert_problem(client.get("/nope"), 404, "/nope")


def test_wrong_method_is_405_with_allow(client):
    response = client.get("/uploads")
    assert_problem(response, 405, "GET")
    assert "POST" in response.headers["Allow"]


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


def test_unexpected_errors_are_a_json_500_without_details(app, client, caplog, monkeypatch):
    import app.web.uploads as api

    def explode() -> None:
        raise RuntimeError("secret-detail-abc")

    monkeypatch.setattr(api, "upload_request", explode)
    response = post(client, {"filename": "a.txt"})
    body = assert_problem(response, 500)
    assert "secret-detail-abc" not in str(body)
    assert "secret-detail-abc" not in caplog.text
    assert "RuntimeError" in caplog.text


def test_healthz_needs_no_token(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
