"""A JWT's ``sub`` and an API token's subject never name the same caller, even when equal."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from app import create_app
from app.web.runtime import Runtime
from tests.support.jwks import token
from tests.support.problems import assert_problem
from tests.support.webhooks import Recording, receiving

SECRET = "s" * 40
ALICE = "alice-token-0123456789"


@pytest.fixture
def client(env):
    app = create_app(
        env
        | {
            "API_TOKENS": f"alice:{ALICE}",
            "JWT_SECRET": SECRET,
            "UPLOAD_SUBJECT_PREFIX": "true",
            "RATE_LIMIT": "2/minute",
        }
    )
    return app.test_client()


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def create(client, credential: str):
    return client.post("/uploads", json={"filename": "a.txt"}, headers=bearer(credential))


def test_a_jwt_alice_cannot_touch_the_uploads_of_the_api_token_alice(client):
    created = create(client, ALICE)
    assert created.status_code == 201
    upload_id = created.get_json()["upload_id"]
    impostor = bearer(token(SECRET, "HS256", sub="alice"))
    assert_problem(client.get(f"/uploads/{upload_id}", headers=impostor), 403)
    assert_problem(client.post(f"/uploads/{upload_id}/complete", headers=impostor), 403)
    assert_problem(client.delete(f"/uploads/{upload_id}", headers=impostor), 403)
    # The refused abort left the upload to its owner.
    assert client.get(f"/uploads/{upload_id}", headers=bearer(ALICE)).status_code == 200


def test_the_jwt_alice_has_its_own_prefix_and_rate_limit_bucket(client):
    jwt_alice = token(SECRET, "HS256", sub="alice")
    assert create(client, ALICE).get_json()["object_name"].startswith("alice/")
    assert create(client, ALICE).status_code == 201
    assert_problem(create(client, ALICE), 429)
    # The API-token alice's bucket is spent; the JWT alice's is not, nor is its prefix hers.
    answer = create(client, jwt_alice)
    assert answer.status_code == 201
    assert answer.get_json()["object_name"].startswith("jwt:alice/")


@pytest.fixture
def receiver() -> Iterator[Recording]:
    with receiving() as server:
        yield server


def test_the_webhook_names_a_jwt_caller_jwt_sub(env, receiver):
    app = create_app(
        env
        | {
            "JWT_SECRET": SECRET,
            "UPLOAD_WEBHOOK_URL": receiver.url,
            "WEBHOOK_SECRET": "w" * 32,
        }
    )
    client, caller = app.test_client(), bearer(token(SECRET, "HS256", sub="alice"))
    answer = client.post("/uploads", json={"filename": "a.txt", "size": 2}, headers=caller)
    signed = answer.get_json()
    requests.put(signed["upload_url"], data=b"hi", headers=signed["upload_headers"], timeout=10)
    done = client.post(f"/uploads/{signed['upload_id']}/complete", headers=caller)
    assert done.status_code == 200, done.get_json()
    assert Runtime.of(app).webhooks.join(10)
    assert json.loads(receiver.bodies[-1])["subject"] == "jwt:alice"
