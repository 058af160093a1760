"""Shared fixtures: one real Swift per session, apps and API servers built on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from tests.support.constants import ALLOWED_ORIGIN, TOKEN
from tests.support.servers import ApiServer, StorageServer


@pytest.fixture(scope="session")
def swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StorageServer]:
    with StorageServer(tmp_path_factory.mktemp("swift")) as server:
        yield server


@pytest.fixture
def env(swift: StorageServer) -> dict[str, str]:
    """Service settings against the session's Swift, as environment variables."""
    return swift.env | {
        "API_TOKENS": TOKEN,
        "CORS_ORIGINS": ALLOWED_ORIGIN,
        "UPLOAD_CONTAINER": "uploads",
    }


@pytest.fixture
def app(env: dict[str, str]) -> Flask:
    return create_app(env)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def sign(client: FlaskClient, auth: dict[str, str]):
    """POST /uploads and return the JSON answer."""

    def sign(filename: str = "hello.txt", **fields: object) -> dict:
        response = client.post("/uploads", json={"filename": filename, **fields}, headers=auth)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return sign


@pytest.fixture
def complete(client: FlaskClient, auth: dict[str, str]):
    """POST /uploads/<id>/complete for a signed answer; the JSON answer (of the status expected)."""

    def complete(answer: dict, expect: int = 200, **body: object) -> dict:
        response = client.post(
            f"/uploads/{answer['upload_id']}/complete", json=body or None, headers=auth
        )
        assert response.status_code == expect, response.get_json()
        return response.get_json()

    return complete


@pytest.fixture(scope="session")
def api_server(
    swift: StorageServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    """The API under gunicorn (2 workers) against the session's Swift."""
    env = swift.env | {"API_TOKENS": TOKEN, "CORS_ORIGINS": ALLOWED_ORIGIN}
    log = Path(tmp_path_factory.mktemp("gunicorn")) / "gunicorn.log"
    with ApiServer(env, log_path=log) as server:
        yield server


@pytest.fixture(scope="session")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session
