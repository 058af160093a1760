"""A Keystone v3 token answer, for requests-mock (no local server can be a Keystone catalog).

``POST /v3/auth/tokens`` answers 201 with the token in ``X-Subject-Token`` and a body with the
project-scoped catalog: object-store endpoints (public and internal) in two regions. With
:func:`mock_keystone` the service's region (``OS_REGION_NAME``, RegionTwo) is a real embedded
Swift, and the token is one that Swift issued.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.support import rackspace

if TYPE_CHECKING:
    import requests_mock

    from tests.support.swift_account import SwiftAccount

KEYSTONE = "https://keystone.example/v3"
REGION = "RegionTwo"
OS = {
    "OS_AUTH_URL": KEYSTONE,
    "OS_USERNAME": "alice",
    "OS_PASSWORD": "s3cret-password",
    "OS_PROJECT_NAME": "uploads-project",
    "OS_USER_DOMAIN_NAME": "Default",
    "OS_PROJECT_DOMAIN_NAME": "Default",
    "OS_REGION_NAME": REGION,
}
# Where RegionTwo is when no real Swift stands behind it (tests that never reach storage).
SWIFT_TWO = ("https://swift-two.example/v1/AUTH_p1", "http://10.0.1.1:8080/v1/AUTH_p1")


def service_env() -> dict[str, str]:
    """The service's own settings (API tokens, CORS origins), without storage credentials."""
    return {k: v for k, v in rackspace.ENV.items() if not k.startswith("RACKSPACE")}


def keystone_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return service_env() | OS | (extra or {})


def keystone_token(
    methods: list[str],
    expires_at: str = "2100-01-01T00:00:00.000000Z",
    region_two: tuple[str, str] = SWIFT_TWO,
) -> dict:
    """The token body; ``region_two`` is RegionTwo's object-store ``(public, internal)`` URLs."""
    catalog = [
        {
            "type": "object-store",
            "name": "swift",
            "endpoints": [
                {"interface": i, "region": r, "region_id": r, "url": u}
                for i, r, u in (
                    ("public", "RegionOne", "https://swift-one.example/v1/AUTH_p1"),
                    ("internal", "RegionOne", "http://10.0.0.1:8080/v1/AUTH_p1"),
                    ("public", REGION, region_two[0]),
                    ("internal", REGION, region_two[1]),
                )
            ],
        },
        {"type": "identity", "name": "keystone", "endpoints": []},
    ]
    return {
        "token": {
            "methods": methods,
            "expires_at": expires_at,
            "issued_at": "2026-01-01T00:00:00.000000Z",
            "user": {"id": "u1", "name": "alice", "domain": {"id": "default", "name": "Default"}},
            "project": {
                "id": "p1",
                "name": "uploads-project",
                "domain": {"id": "default", "name": "Default"},
            },
            "roles": [{"id": "r1", "name": "member"}],
            "catalog": catalog,
        }
    }


def mock_keystone(
    mock: requests_mock.Mocker, swift: SwiftAccount | None, *answers: dict[str, Any]
) -> Any:
    """Keystone's ``POST /auth/tokens`` on ``mock``, answering ``answers`` in turn.

    Each answer takes ``methods`` (default ``["password"]``), ``expires_at`` and ``token``; the
    last one repeats. With a ``swift``, RegionTwo's object store is that Swift (ServiceNet as its
    internal endpoint) and the token is the one its tempauth issues at the time of the call,
    unless an answer names its own.
    """

    def answer(changes: dict[str, Any]):
        def body(request, context) -> dict:
            token = changes.get("token") or (swift.token() if swift else "ks-token")
            context.headers["X-Subject-Token"] = token
            region_two = (swift.public_url, swift.internal_url) if swift else SWIFT_TWO
            return keystone_token(
                changes.get("methods", ["password"]),
                changes.get("expires_at", "2100-01-01T00:00:00.000000Z"),
                region_two,
            )

        return {"json": body, "status_code": 201}

    return mock.post(f"{KEYSTONE}/auth/tokens", [answer(c) for c in answers or ({},)])
