"""Keystone v3 settings for tests that never log in.

``OS`` is an openrc's variables for a Keystone that is not there: settings tests read them, and
requests-mock answers at ``KEYSTONE`` only with what a real Keystone does not give on demand (a
503). Every login, catalog and token test runs against a real Keystone
(tests/support/keystone_server.py).
"""

from __future__ import annotations

from tests.support import rackspace

KEYSTONE = "https://keystone.example/v3"
OS = {
    "OS_AUTH_URL": KEYSTONE,
    "OS_USERNAME": "alice",
    "OS_PASSWORD": "s3cret-password",
    "OS_PROJECT_NAME": "uploads-project",
    "OS_USER_DOMAIN_NAME": "Default",
    "OS_PROJECT_DOMAIN_NAME": "Default",
    "OS_REGION_NAME": "RegionTwo",
}


def service_env() -> dict[str, str]:
    """The service's own settings (API tokens, CORS origins), without storage credentials."""
    return {k: v for k, v in rackspace.ENV.items() if not k.startswith("RACKSPACE")}


def keystone_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return service_env() | OS | (extra or {})
