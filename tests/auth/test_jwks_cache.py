"""The JWKS cache against a real local identity-provider endpoint that can fail or be slow."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from app import create_app
from tests.support.constants import TOKEN
from tests.support.jwks import AUDIENCE, JwksServer, public_jwk, rsa_key, token
from tests.support.problems import assert_problem
from tests.support.waiting import wait_until


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


def post(client, credential: str):
    return client.post(
        "/uploads", json={"filename": "a.txt"}, headers={"Authorization": f"Bearer {credential}"}
    )


def test_a_failing_provider_is_asked_once_per_cooldown_and_failures_answer_fast(env, idp, key):
    idp.status, idp.delay = 503, 1.0
    client = client_for(env, idp, JWT_JWKS_COOLDOWN="60")
    assert_problem(post(client, token(key, "RS256", "k1")), 503)
    assert idp.fetches == 1
    for n in range(10):  # random kids, as an attacker would send them
        assert_problem(post(client, token(key, "RS256", f"random-{n}")), 503)
        # From the remembered failure: the slow provider was not asked (nor waited for).
        assert idp.fetches == 1
    # API tokens never depend on the identity provider.
    assert post(client, TOKEN).status_code == 201
    assert idp.fetches == 1


def test_keys_are_refreshed_in_the_background_before_they_expire(env, idp, key):
    client = client_for(env, idp, JWT_JWKS_CACHE_SECONDS="1", JWT_JWKS_COOLDOWN="0")
    assert post(client, token(key, "RS256", "k1")).status_code == 201
    assert idp.fetches == 1
    # Refreshed twice, with no request asking for it.
    wait_until(lambda: idp.fetches >= 3, message="the key set was not refreshed in the background")
    # The provider stops answering: the next background refresh waits in it (holding the cache's
    # lock). Requests with a known key are answered while it waits, so they never wait for it,
    # also once the set is half a second past its lifespan of 1 s: an expired set is not awaited.
    idp.answering.clear()
    wait_until(lambda: idp.waiting_clients() == 1, message="no refresh reached the provider")
    expired_at = idp.last_answered + 1.0 + 0.5
    while True:
        expired = time.monotonic() > expired_at
        assert post(client, token(key, "RS256", "k1")).status_code == 201
        assert idp.waiting_clients() == 1, "the answer came after the refresh ended"
        if expired:
            break
        time.sleep(0.1)
    idp.answering.set()


def test_known_keys_stay_in_use_while_the_provider_fails(env, idp, key):
    client = client_for(env, idp, JWT_JWKS_CACHE_SECONDS="1", JWT_JWKS_COOLDOWN="0")
    assert post(client, token(key, "RS256", "k1")).status_code == 201
    idp.status = 500
    wait_until(lambda: idp.fetches >= 3, message="no background refresh")  # that failed
    assert post(client, token(key, "RS256", "k1")).status_code == 201
