"""Rate limits on signing: per subject and per client address, in memory and in a real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app import create_app
from tests.support.constants import TOKEN
from tests.support.problems import assert_problem
from tests.support.redis_server import RedisServer

ALICE = "alice-token-0123456789"
BOB = "bob-token-abcdefghijkl"
TOKENS = f"alice:{ALICE},bob:{BOB},{TOKEN}"


def post(client, credential: str, address: str = "127.0.0.1"):
    return client.post(
        "/uploads",
        json={"filename": "a.txt"},
        headers={"Authorization": f"Bearer {credential}"},
        environ_base={"REMOTE_ADDR": address},
    )


def test_rate_limit_is_per_subject_with_429_and_retry_after(env):
    client = create_app(env | {"API_TOKENS": TOKENS, "RATE_LIMIT": "3/minute"}).test_client()
    assert [post(client, ALICE).status_code for _ in range(3)] == [201, 201, 201]
    limited = post(client, ALICE)
    assert_problem(limited, 429)
    assert 0 < int(limited.headers["Retry-After"]) <= 61
    assert "X-Request-ID" in limited.headers
    # Another subject has its own budget, even from the same address.
    assert post(client, BOB).status_code == 201
    # Health and readiness are never limited.
    assert client.get("/healthz").status_code == 200


def test_rate_limit_per_ip_counts_every_caller_from_an_address(env):
    client = create_app(env | {"API_TOKENS": TOKENS, "RATE_LIMIT_PER_IP": "2/minute"}).test_client()
    assert post(client, ALICE, "10.0.0.1").status_code == 201
    assert post(client, BOB, "10.0.0.1").status_code == 201
    assert post(client, TOKEN, "10.0.0.1").status_code == 429
    assert post(client, TOKEN, "10.0.0.2").status_code == 201


def test_failed_authentication_counts_against_the_address(env):
    client = create_app(env | {"API_TOKENS": TOKENS, "RATE_LIMIT_PER_IP": "2/minute"}).test_client()
    assert post(client, "guess-0123456789abcdef", "10.0.0.3").status_code == 401
    assert post(client, "guess-1123456789abcdef", "10.0.0.3").status_code == 401
    assert post(client, "guess-2123456789abcdef", "10.0.0.3").status_code == 429


def test_without_settings_nothing_is_limited(env):
    client = create_app(env | {"API_TOKENS": TOKENS}).test_client()
    assert all(post(client, ALICE).status_code == 201 for _ in range(20))


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path) as server:
        yield server


def test_two_instances_share_the_limit_through_redis(env, redis_server):
    settings = env | {
        "API_TOKENS": TOKENS,
        "RATE_LIMIT": "4/minute",
        "RATELIMIT_STORAGE_URI": redis_server.url,
    }
    first, second = create_app(settings).test_client(), create_app(settings).test_client()
    assert [post(c, ALICE).status_code for c in (first, second, first, second)] == [201] * 4
    assert post(first, ALICE).status_code == 429
    assert post(second, ALICE).status_code == 429
    assert post(second, BOB).status_code == 201


def test_a_redis_outage_falls_back_to_memory_limits(env, redis_server):
    client = create_app(
        env
        | {
            "API_TOKENS": TOKENS,
            "RATE_LIMIT": "2/minute",
            "RATELIMIT_STORAGE_URI": redis_server.url,
        }
    ).test_client()
    assert post(client, ALICE).status_code == 201
    redis_server.stop()
    # Signing goes on, still limited (per process) while the shared store is away.
    assert [post(client, ALICE).status_code for _ in range(3)] == [201, 201, 429]


def test_both_limits_apply_together(env):
    client = create_app(
        env | {"API_TOKENS": TOKENS, "RATE_LIMIT": "2/minute", "RATE_LIMIT_PER_IP": "3/minute"}
    ).test_client()
    assert [post(client, ALICE, "10.1.0.1").status_code for _ in range(3)] == [201, 201, 429]
    codes = [post(client, who, "10.1.0.2").status_code for who in (BOB, TOKEN, BOB, TOKEN)]
    assert codes == [201, 201, 201, 429]  # the fourth breaks the address's limit, not a subject's


def call(client, method: str, path: str, credential: str = ALICE, address: str = "127.0.0.1"):
    return client.open(
        path,
        method=method,
        headers={"Authorization": f"Bearer {credential}"},
        environ_base={"REMOTE_ADDR": address},
    )


def test_rate_limit_per_ip_counts_every_request_whatever_its_path_or_outcome(env):
    client = create_app(env | {"API_TOKENS": TOKENS, "RATE_LIMIT_PER_IP": "3/minute"}).test_client()
    guess, address = "guess-0123456789abcdef", "10.2.0.1"
    assert call(client, "GET", "/uploads/some-id", guess, address).status_code == 401
    assert call(client, "POST", "/uploads/some-id/complete", guess, address).status_code == 401
    assert call(client, "GET", "/no-such-path", guess, address).status_code == 404
    limited = call(client, "GET", "/uploads/other-id", guess, address)
    assert_problem(limited, 429)
    assert 0 < int(limited.headers["Retry-After"]) <= 61
    assert_problem(call(client, "GET", "/openapi.json", ALICE, address), 429)
    # Probes from the limited address still answer: a load balancer must not lock itself out.
    assert call(client, "GET", "/healthz", address=address).status_code == 200
    assert call(client, "GET", "/metrics", address=address).status_code == 200
    assert call(client, "GET", "/readyz", address=address).status_code != 429
    assert call(client, "GET", "/uploads/some-id", guess, "10.2.0.2").status_code == 401


def test_cors_preflights_are_not_counted(env):
    settings = env | {"API_TOKENS": TOKENS, "RATE_LIMIT_PER_IP": "1/minute"}
    client = create_app(settings).test_client()
    origin = settings["CORS_ORIGINS"].split(",")[0]
    preflight = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    for _ in range(3):
        assert client.options("/uploads", headers=preflight).status_code == 200
    assert post(client, ALICE).status_code == 201


def test_completes_and_part_urls_are_limited_per_subject_in_their_own_buckets(env):
    client = create_app(env | {"API_TOKENS": TOKENS, "RATE_LIMIT": "3/minute"}).test_client()
    upload_id = post(client, ALICE).get_json()["upload_id"]
    completes = [call(client, "POST", f"/uploads/{upload_id}/complete") for _ in range(4)]
    assert 429 not in [answer.status_code for answer in completes[:3]]
    assert_problem(completes[3], 429)
    parts = [call(client, "GET", f"/uploads/{upload_id}/parts?from=1") for _ in range(4)]
    assert 429 not in [answer.status_code for answer in parts[:3]]
    assert_problem(parts[3], 429)
    # Signing kept its own budget (one of three spent), and BOB's completes are his own.
    assert [post(client, ALICE).status_code for _ in range(3)] == [201, 201, 429]
    assert call(client, "POST", f"/uploads/{upload_id}/complete", BOB).status_code == 403


def test_unauthenticated_callers_are_limited_per_address(env):
    client = create_app(env | {"API_TOKENS": TOKENS, "RATE_LIMIT": "2/minute"}).test_client()
    guess = "guess-0123456789abcdef"
    assert [post(client, guess, "10.3.0.1").status_code for _ in range(3)] == [401, 401, 429]
    # Another unauthenticated caller keeps its own budget, and a known subject is not touched.
    assert post(client, guess, "10.3.0.2").status_code == 401
    assert post(client, ALICE, "10.3.0.1").status_code == 201
