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
