"""Authentication modes: API tokens (plain, per subject, hashed) and JWT (HS256, JWKS)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from app import create_app
from app.settings.parsers import ConfigError
from app.settings.security import bare_subject
from app.settings.service import Settings
from tests.support.constants import TOKEN
from tests.support.jwks import AUDIENCE, ISSUER, JwksServer, ec_key, public_jwk, rsa_key, token
from tests.support.problems import assert_problem

SECRET = "s" * 40
ALICE = "alice-token-0123456789"
BOB = "bob-token-abcdefghijkl"


def post(client, credential: str | None, **extra):
    headers = {"Authorization": f"Bearer {credential}"} if credential is not None else {}
    return client.post("/uploads", json={"filename": "a.txt"}, headers=headers | extra)


def subject_of(client, credential: str) -> str:
    """The subject the service tied the upload to (prefix mode puts it in the object name)."""
    response = post(client, credential)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["object_name"].split("/")[0]


@pytest.fixture
def token_client(env):
    entries = [
        f"alice:{ALICE}",
        f"bob:sha256:{hashlib.sha256(BOB.encode()).hexdigest()}",
        TOKEN,  # bare: the subject is a hash of the token
    ]
    app = create_app(env | {"API_TOKENS": ",".join(entries), "UPLOAD_SUBJECT_PREFIX": "true"})
    return app.test_client()


def test_each_token_form_authenticates_as_its_subject(token_client):
    assert subject_of(token_client, ALICE) == "alice"
    assert subject_of(token_client, BOB) == "bob"
    # A bare token still works; its subject is a hash, never the token itself.
    assert subject_of(token_client, TOKEN) == bare_subject(TOKEN)
    assert TOKEN not in bare_subject(TOKEN)


@pytest.mark.parametrize(
    "credential",
    [
        "wrong-token-0123456789",
        ALICE[:-1],
        ALICE + "x",
        "alice",
        f"alice:{ALICE}",  # the config entry is not a credential
        hashlib.sha256(BOB.encode()).hexdigest(),  # nor is the stored hash
    ],
)
def test_wrong_tokens_get_401_with_a_bearer_challenge(token_client, credential):
    response = post(token_client, credential)
    assert_problem(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("header", [None, "Basic YWxpY2U6cHc=", "Bearer", "Bearer   "])
def test_missing_or_other_schemes_get_401(token_client, header):
    headers = {"Authorization": header} if header is not None else {}
    response = token_client.post("/uploads", json={"filename": "a.txt"}, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_subject_is_never_taken_from_the_body(token_client):
    response = token_client.post(
        "/uploads",
        json={"filename": "a.txt", "subject": "bob", "sub": "bob"},
        headers={"Authorization": f"Bearer {ALICE}"},
    )
    assert response.get_json()["object_name"].startswith("alice/")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("short", "at least 16"),
        ("alice:short", "at least 16"),
        ("al ice:0123456789abcdefgh", "subject"),
        ("alice:sha256:abc", "64 hex"),
        ("", "API_TOKENS is not set"),
    ],
)
def test_bad_api_tokens_stop_start_up_naming_the_variable(swift, value, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(swift.env | {"API_TOKENS": value})


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"AUTH_MODE": "jwt"}, "JWT_SECRET or JWT_JWKS_URL"),
        ({"AUTH_MODE": "none"}, "AUTH_MODE"),
        ({"JWT_SECRET": "too-short"}, "JWT_SECRET"),
        ({"JWT_JWKS_URL": "http://127.0.0.1:1/jwks.json"}, "JWT_AUDIENCE"),
        ({"JWT_JWKS_URL": "ftp://idp/jwks"}, "JWT_JWKS_URL"),
    ],
)
def test_bad_auth_settings_stop_start_up(swift, extra, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(swift.env | {"API_TOKENS": TOKEN} | extra)


def test_auth_mode_jwt_turns_api_tokens_off(env):
    client = create_app(env | {"JWT_SECRET": SECRET, "AUTH_MODE": "jwt"}).test_client()
    assert post(client, TOKEN).status_code == 401
    assert post(client, token(SECRET, "HS256")).status_code == 201


# --- JWT with a shared secret (HS256) ---


@pytest.fixture
def hs_client(env):
    app = create_app(
        env
        | {
            "JWT_SECRET": SECRET,
            "JWT_AUDIENCE": AUDIENCE,
            "JWT_ISSUER": ISSUER,
            "JWT_LEEWAY": "5",
            "UPLOAD_SUBJECT_PREFIX": "true",
        }
    )
    return app.test_client()


def test_a_good_hs256_token_authenticates_as_its_sub(hs_client):
    assert subject_of(hs_client, token(SECRET, "HS256", sub="carol")) == "jwt:carol"
    # API tokens keep working next to JWT (both modes inferred).
    assert post(hs_client, TOKEN).status_code == 201


def _tamper(credential: str) -> str:
    header, payload, signature = credential.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "mallory"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _alg_none(**changes) -> str:
    return jwt.encode(
        {"sub": "mallory", "aud": AUDIENCE, "iss": ISSUER, "exp": 2**31}, None, algorithm="none"
    )


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: token(SECRET, "HS256", exp=int(time.time()) - 60), id="expired"),
        pytest.param(
            lambda: token(SECRET, "HS256", nbf=int(time.time()) + 120), id="not-yet-valid"
        ),
        pytest.param(lambda: token(SECRET, "HS256", aud="another-app"), id="wrong-audience"),
        pytest.param(lambda: token(SECRET, "HS256", aud=None), id="no-audience"),
        pytest.param(lambda: token(SECRET, "HS256", iss="https://evil.test/"), id="wrong-issuer"),
        pytest.param(lambda: token(SECRET, "HS256", exp=None), id="no-exp"),
        pytest.param(lambda: token(SECRET, "HS256", sub=None), id="no-sub"),
        pytest.param(lambda: token(SECRET, "HS256", sub=""), id="empty-sub"),
        pytest.param(lambda: token("x" * 40, "HS256"), id="wrong-key"),
        pytest.param(lambda: _tamper(token(SECRET, "HS256")), id="tampered"),
        pytest.param(_alg_none, id="alg-none"),
        pytest.param(lambda: token(SECRET, "HS256")[:-4], id="truncated-signature"),
        pytest.param(lambda: "a.b.c", id="garbage"),
    ],
)
def test_bad_hs256_tokens_get_401(hs_client, make):
    response = post(hs_client, make())
    assert response.status_code == 401, response.get_json()
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_an_expired_token_is_told_so_and_leeway_applies(hs_client):
    expired = post(hs_client, token(SECRET, "HS256", exp=int(time.time()) - 60))
    assert expired.get_json()["detail"] == "The bearer token has expired."
    # Within the 5 s leeway a just-expired token still passes (clock skew).
    assert post(hs_client, token(SECRET, "HS256", exp=int(time.time()) - 2)).status_code == 201


# --- JWT with keys from a JWKS endpoint (RS256, ES256) ---


@pytest.fixture(scope="module")
def keys() -> dict:
    return {"rsa": rsa_key(), "rsa2": rsa_key(), "ec": ec_key(), "other": rsa_key()}


@pytest.fixture
def jwks(keys) -> Iterator[JwksServer]:
    with JwksServer() as server:
        server.keys = [public_jwk(keys["rsa"], "rsa-1"), public_jwk(keys["ec"], "ec-1")]
        yield server


@pytest.fixture
def jwks_client(env, jwks):
    app = create_app(
        env
        | {
            "JWT_JWKS_URL": jwks.url,
            "JWT_AUDIENCE": AUDIENCE,
            "JWT_ISSUER": ISSUER,
            "JWT_JWKS_COOLDOWN": "0",
            "UPLOAD_SUBJECT_PREFIX": "true",
        }
    )
    return app.test_client()


def test_rs256_and_es256_tokens_from_the_jwks_authenticate(jwks_client, jwks, keys):
    assert jwks.fetches == 0  # nothing fetched at start-up or per request ...
    assert subject_of(jwks_client, token(keys["rsa"], "RS256", "rsa-1", sub="dave")) == "jwt:dave"
    assert subject_of(jwks_client, token(keys["ec"], "ES256", "ec-1", sub="erin")) == "jwt:erin"
    for _ in range(3):
        assert post(jwks_client, token(keys["rsa"], "RS256", "rsa-1")).status_code == 201
    assert jwks.fetches == 1  # ... the key set is fetched once and cached


def test_an_unknown_kid_refreshes_the_jwks_once(jwks_client, jwks, keys):
    assert post(jwks_client, token(keys["rsa"], "RS256", "rsa-1")).status_code == 201
    # The identity provider rotates in a new key; the first token signed with it refreshes.
    jwks.keys = [*jwks.keys, public_jwk(keys["rsa2"], "rsa-2")]
    assert post(jwks_client, token(keys["rsa2"], "RS256", "rsa-2")).status_code == 201
    assert jwks.fetches == 2
    assert post(jwks_client, token(keys["rsa2"], "RS256", "rsa-2")).status_code == 201
    assert jwks.fetches == 2


def test_unknown_kids_refresh_at_most_once_per_cooldown(env, jwks, keys):
    client = create_app(
        env | {"JWT_JWKS_URL": jwks.url, "JWT_AUDIENCE": AUDIENCE, "JWT_JWKS_COOLDOWN": "60"}
    ).test_client()
    assert post(client, token(keys["rsa"], "RS256", "rsa-1")).status_code == 201
    for n in range(5):
        assert post(client, token(keys["other"], "RS256", f"random-{n}")).status_code == 401
    assert jwks.fetches == 1  # random kids cannot make the service hammer the IdP


def _hs256_signed_with_public_key(public_pem: bytes) -> str:
    # Algorithm confusion: an HS256 token whose HMAC secret is the RSA *public* key. PyJWT
    # refuses to encode with a PEM key, so the signature is built by hand.
    import hashlib as h
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
    payload = b64(
        json.dumps({"sub": "mallory", "aud": AUDIENCE, "iss": ISSUER, "exp": 2**31}).encode()
    )
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), h.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(
            lambda k: token(k["rsa"], "RS256", "rsa-1", exp=int(time.time()) - 120), id="expired"
        ),
        pytest.param(lambda k: token(k["rsa"], "RS256", "rsa-1", aud="other"), id="wrong-audience"),
        pytest.param(
            lambda k: token(k["rsa"], "RS256", "rsa-1", iss="https://evil/"), id="wrong-issuer"
        ),
        pytest.param(lambda k: token(k["other"], "RS256", "rsa-1"), id="wrong-key"),
        pytest.param(lambda k: token(k["rsa"], "RS256"), id="no-kid"),
        pytest.param(lambda k: token(k["other"], "RS256", "never-published"), id="unknown-kid"),
        pytest.param(lambda k: _tamper(token(k["rsa"], "RS256", "rsa-1")), id="tampered"),
        pytest.param(lambda k: token(k["rsa"], "RS512", "rsa-1"), id="unaccepted-alg"),
        # An EC token naming the RSA key's kid: the key decides the algorithm.
        pytest.param(lambda k: token(k["ec"], "ES256", "rsa-1"), id="alg-key-mismatch"),
        pytest.param(lambda k: _alg_none(), id="alg-none"),
        pytest.param(
            lambda k: _hs256_signed_with_public_key(
                k["rsa"]
                .public_key()
                .public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            ),
            id="hs256-with-rsa-public-key",
        ),
    ],
)
def test_bad_jwks_tokens_get_401(jwks_client, keys, make):
    response = post(jwks_client, make(keys))
    assert response.status_code == 401, response.get_json()


def test_an_unreachable_jwks_gives_503_with_retry_after(env, keys):
    with JwksServer() as down:
        url = down.url
    client = create_app(env | {"JWT_JWKS_URL": url, "JWT_AUDIENCE": AUDIENCE}).test_client()
    response = post(client, token(keys["rsa"], "RS256", "rsa-1"))
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    # API tokens still work while the identity provider is down.
    assert post(client, TOKEN).status_code == 201
