"""The JWKS cache against a real local identity-provider endpoint that can fail or be slow."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from app import create_app
from tests.support.constants import TOKEN
from tests.support.jwks import AUDIENCE, JwksServer, public_jwk, rsa_key, token
from tests.support.problems import assert_problem


@pytest.fixture(scope="module")
def key():
    return rsa_key()


@pytest.fixture
def idp(key) -> Iterator[JwksServer]:
    with JwksServer() as provider:
        provider.keys = [public_jwk(key, "k1")]
        yield provider


def client_for(env: dict[str, str], idp: JwksServer, **settings: str):
    return create_app(
        env | {"JWT_JWKS_URL": idp.url, "JWT_AUDIENCE": AUDIENCE} | settings
    ).test_client()


def timed_post(client, credential: str):
    started = time.monotonic()
    response = client.post(
        "/uploads", json={"filename": "a.txt"}, headers={"Authorization": f"Bearer {credential}"}
    )
    return response, time.monotonic() - started


def test_a_failing_provider_is_asked_once_per_cooldown_and_failures_answer_fast(env, idp, key):
    idp.status, idp.delay = 503, 1.0
    client = client_for(env, idp, JWT_JWKS_COOLDOWN="60")
    first, _ = timed_post(client, token(key, "RS256", "k1"))
    assert_problem(first, 503)
    for n in range(10):  # random kids, as an attacker would send them
        response, elapsed = timed_post(client, token(key, "RS256", f"random-{n}"))
        assert_problem(response, 503)
        assert elapsed < 0.5  # from the remembered failure, not from the provider
    assert idp.fetches == 1
    # API tokens never depend on the identity provider.
    assert timed_post(client, TOKEN)[0].status_code == 201


def test_keys_are_refreshed_in_the_background_before_they_expire(env, idp, key):
    client = client_for(env, idp, JWT_JWKS_CACHE_SECONDS="1", JWT_JWKS_COOLDOWN="0")
    assert timed_post(client, token(key, "RS256", "k1"))[0].status_code == 201
    assert idp.fetches == 1
    deadline = time.monotonic() + 10
    while idp.fetches < 3:  # refreshed twice, with no request asking for it
        assert time.monotonic() < deadline, "the key set was not refreshed in the background"
        time.sleep(0.05)
    # The provider turns slow: requests with a known key still never wait for it.
    idp.delay = 2.0
    for _ in range(5):
        response, elapsed = timed_post(client, token(key, "RS256", "k1"))
        assert response.status_code == 201
        assert elapsed < 0.5
        time.sleep(0.3)  # past the lifespan of 1 s over the loop: an expired set is not awaited


def test_known_keys_stay_in_use_while_the_provider_fails(env, idp, key):
    client = client_for(env, idp, JWT_JWKS_CACHE_SECONDS="1", JWT_JWKS_COOLDOWN="0")
    assert timed_post(client, token(key, "RS256", "k1"))[0].status_code == 201
    idp.status = 500
    deadline = time.monotonic() + 10
    while idp.fetches < 3:  # background refreshes that failed
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert timed_post(client, token(key, "RS256", "k1"))[0].status_code == 201
