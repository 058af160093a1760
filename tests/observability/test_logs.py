"""JSON logs tied to a request id; tokens, signatures and keys never logged or returned."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from app import create_app
from app.observability.logs import JsonFormatter, scrub
from app.web.runtime import Runtime
from tests.support.constants import TOKEN
from tests.support.jwks import AUDIENCE, token
from tests.support.servers import ApiServer

SECRET = "jwt-secret-" + "z" * 30


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_a_sane_request_id_is_kept_and_returned(client, auth):
    response = client.post(
        "/uploads", json={"filename": "a"}, headers=auth | {"X-Request-ID": "req-123.abc"}
    )
    assert response.headers["X-Request-ID"] == "req-123.abc"


@pytest.mark.parametrize("incoming", [None, "", "x" * 129, "a b", "<script>", "a;b=c", "é"])
def test_otherwise_one_is_generated_on_every_response(client, incoming):
    headers = {"X-Request-ID": incoming} if incoming is not None else {}
    for response in (
        client.get("/healthz", headers=headers),
        client.get("/nowhere", headers=headers),
        client.post("/uploads", json={}, headers=headers),
    ):
        generated = response.headers["X-Request-ID"]
        assert len(generated) == 32 and generated != incoming


def test_log_lines_are_json_with_request_id_and_subject(client, auth, captured):
    response = client.post(
        "/uploads", json={"filename": "a.txt"}, headers=auth | {"X-Request-ID": "trace-1"}
    )
    assert response.status_code == 201
    signed = [entry for entry in lines(captured) if entry["message"].startswith("signed upload")]
    assert len(signed) == 1
    entry = signed[0]
    assert entry["request_id"] == "trace-1"
    assert entry["subject"].startswith("token:")
    assert entry["level"] == "info" and entry["path"] == "/uploads"


def test_no_secret_reaches_a_log_or_an_error_body(env, captured):
    app = create_app(env | {"JWT_SECRET": SECRET, "JWT_AUDIENCE": AUDIENCE})
    client = app.test_client()
    jwt_token = token(SECRET, "HS256")
    bodies = []
    ok = client.post(
        "/uploads", json={"filename": "a"}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    signatures = [
        parse_qs(urlsplit(ok.get_json()[url]).query)["temp_url_sig"][0]
        for url in ("upload_url", "download_url")
    ]
    for credential in (TOKEN + "x", jwt_token, jwt_token[:-3], "x" * 9000):
        bodies.append(
            client.post(
                "/uploads",
                json={"filename": "a"},
                headers={"Authorization": f"Bearer {credential}"},
            ).get_data(as_text=True)
        )
    bodies.append(
        client.post("/uploads", data="{", headers={"Content-Type": "application/json"}).get_data(
            as_text=True
        )
    )
    state = Runtime.of(app).storage
    key = state.signer.key
    log_text = captured.getvalue()
    assert "signed upload" in log_text and "authentication refused" in log_text
    for secret in (
        TOKEN,
        jwt_token,
        jwt_token.split(".")[2],
        SECRET,
        key,
        env["ST_KEY"],
        *signatures,
    ):
        assert secret not in log_text
        assert all(secret not in body for body in bodies)


def test_the_scrubber_masks_secrets_that_slip_into_a_message():
    text = scrub(
        "GET /v1/AUTH_x/c/o?temp_url_sig=abc123&temp_url_expires=1 "
        "Authorization: Bearer tok.en.x X-Auth-Token: AUTH_tk123 X-Account-Meta-Temp-URL-Key: k3y"
    )
    for secret in ("abc123", "tok.en.x", "AUTH_tk123", "k3y"):
        assert secret not in text
    assert "temp_url_expires=1" in text


@pytest.mark.parametrize("access_log", ["-", ""])
def test_under_gunicorn_each_signed_upload_is_audited_exactly_once(env, tmp_path, access_log):
    """On the JSON access line when gunicorn writes one, else as the app's own line."""
    log_path = tmp_path / "gunicorn.log"
    server_env = env | {"GUNICORN_ACCESSLOG": access_log}
    with ApiServer(server_env, workers=1, log_path=log_path) as api:
        signed = requests.post(
            api.url + "/uploads",
            json={"filename": "audited.txt"},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        ).json()
    entries = [json.loads(line) for line in log_path.read_text().splitlines() if line[:1] == "{"]
    on_access = [e for e in entries if e.get("type") == "access" and e["path"] == "/uploads"]
    own_lines = [e for e in entries if e.get("message", "").startswith("signed upload")]
    if access_log:
        assert [e["object_name"] for e in on_access] == [signed["object_name"]]
        assert on_access[0]["subject"].startswith("token:") and not own_lines
    else:
        assert not on_access
        assert [e["message"] for e in own_lines] == [
            f"signed upload {signed['object_name']} for {own_lines[0]['subject']}"
        ]
