"""The OpenAPI 3.1 contract: a valid document, true to real responses, fuzzed by schemathesis."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_spec_validator import validate
from werkzeug.test import EnvironBuilder

from app import create_app
from app.embedded.node import free_port
from tests.support.constants import TOKEN
from tests.support.servers import ApiServer

AUTH = {"Authorization": f"Bearer {TOKEN}"}
# openapi-core knows application/json only; problem details are JSON too.
CONFIG = Config(extra_media_type_deserializers={"application/problem+json": json.loads})


def load_spec(client) -> OpenAPI:
    return OpenAPI.from_dict(client.get("/openapi.json").get_json(), config=CONFIG)


def check(response, spec: OpenAPI) -> None:
    """Validate one real response (status, headers, body) against the served document."""
    # The app consumed the real request's body; path and method are what matter here.
    request = EnvironBuilder(
        path=response.request.path,
        method=response.request.method,
        base_url="http://localhost",
    ).get_request()
    spec.validate_response(WerkzeugOpenAPIRequest(request), WerkzeugOpenAPIResponse(response))


@pytest.fixture
def contract_client(env):
    app = create_app(
        env
        | {
            "MAX_UPLOAD_SIZE": "1M",
            "ALLOWED_CONTENT_TYPES": "image/*,text/*",
            "RATE_LIMIT": "1000/minute",
        }
    )
    return app.test_client()


@pytest.fixture
def spec(contract_client) -> OpenAPI:
    return load_spec(contract_client)


def test_the_document_is_valid_openapi_3_1(contract_client):
    document = contract_client.get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    validate(document)
    assert (
        document["paths"]["/uploads"]["post"]["requestBody"]["content"]["application/json"][
            "schema"
        ]["anyOf"][0]["properties"]["size"]["maximum"]
        == 1024**2
    )


def test_every_route_is_documented_and_nothing_else(contract_client):
    app = contract_client.application
    document = contract_client.get("/openapi.json").get_json()
    routes = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert routes == documented


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        ({"filename": "a.txt", "size": 3}, AUTH, 201),
        ({"filename": "a.png", "size": 3, "content_type": "image/png"}, AUTH, 201),
        ({"filename": "a.txt", "size": 2 * 1024**2}, AUTH, 413),
        ({"filename": "a.pdf", "size": 3}, AUTH, 415),
        ({"filename": "", "size": 3}, AUTH, 400),
        ({"filename": "a.txt"}, AUTH, 400),
        ({"filename": 7, "size": 3}, AUTH, 400),
        ({"filename": "a.txt", "size": 3}, {}, 401),
        ({"filename": "a.txt", "size": 3}, {"Authorization": "Bearer nope-0123456789abcdef"}, 401),
    ],
)
def test_upload_responses_match_the_document(contract_client, spec, body, headers, status):
    response = contract_client.post("/uploads", json=body, headers=headers)
    assert response.status_code == status
    check(response, spec)


def test_other_responses_match_the_document(contract_client, spec):
    for response, status in (
        (contract_client.get("/healthz"), 200),
        (contract_client.get("/readyz"), 200),
        (contract_client.get("/openapi.json"), 200),
    ):
        assert response.status_code == status
        check(response, spec)


def test_limit_and_outage_responses_match_the_document(env, swift):
    limited = create_app(env | {"RATE_LIMIT": "1/minute"}).test_client()
    spec = load_spec(limited)
    assert limited.post("/uploads", json={"filename": "a"}, headers=AUTH).status_code == 201
    too_many = limited.post("/uploads", json={"filename": "a"}, headers=AUTH)
    assert too_many.status_code == 429
    check(too_many, spec)
    # Storage unreachable from the start: sign and readiness answer 503 with Retry-After.
    nobody = f"http://127.0.0.1:{free_port()}/auth/v1.0"  # a free port: nothing listens there
    down = create_app(env | {"ST_AUTH": nobody, "STORAGE_TIMEOUT": "0.5"})
    client = down.test_client()
    for response in (
        client.post("/uploads", json={"filename": "a"}, headers=AUTH),
        client.get("/readyz"),
    ):
        assert response.status_code == 503
        check(response, spec)


def test_schemathesis_finds_no_server_error_and_no_schema_violation(swift, tmp_path):
    """All checks, bounded examples, against the API under gunicorn (as in production)."""
    env = swift.env | {"API_TOKENS": TOKEN, "MAX_UPLOAD_SIZE": "100M"}
    log = tmp_path / "gunicorn.log"
    with ApiServer(env, workers=2, log_path=log) as server:
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "--config-file",
                str(Path(__file__).with_name("schemathesis.toml")),
                "--no-color",
                "run",
                f"{server.url}/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                "40",
                "--seed",
                "6",
                "--header",
                f"Authorization: Bearer {TOKEN}",
                "--request-timeout",
                "10",
            ],
            capture_output=True,
            text=True,
            timeout=240,
            cwd=tmp_path,  # its caches and reports stay out of the repository
            env={"SCHEMATHESIS_HOOKS": "", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    # The fuzzer sent the token thousands of times: it must not appear in the server's log.
    assert TOKEN not in log.read_text()
    assert "temp_url_sig=" not in log.read_text()
