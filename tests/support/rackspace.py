"""A realistic Rackspace identity v2.0 answer, for requests-mock (no local server can be Rackspace).

Shape taken from Rackspace's identity v2.0 documentation: an API-key ``POST /tokens`` answers
with the token, the user (with ``RAX-AUTH:defaultRegion``) and a catalog where Cloud Files is
``{"name": "cloudFiles", "type": "object-store"}`` with public and internal (ServiceNet) URLs per
region, next to other services (CDN, servers) the store must ignore. :func:`mock_identity` makes
one region's Cloud Files a real embedded Swift, with a token that Swift issued.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests_mock

    from tests.support.swift_account import SwiftAccount

IDENTITY = "https://identity.api.rackspacecloud.com/v2.0"
TENANT = "MossoCloudFS_0123abcd-4567-89ef-0123-456789abcdef"
REGIONS = ("DFW", "ORD", "IAD", "LON", "SYD", "HKG")
ENV = {
    "RACKSPACE_USERNAME": "alice",
    "RACKSPACE_API_KEY": "0123456789abcdef0123456789abcdef",
    "API_TOKENS": "test-token-0123456789abcdef",
    "CORS_ORIGINS": "https://app.example.com",
}


def public_url(region: str) -> str:
    return f"https://storage101.{region.lower()}1.clouddrive.com/v1/{TENANT}"


def internal_url(region: str) -> str:
    return f"https://snet-storage101.{region.lower()}1.clouddrive.com/v1/{TENANT}"


def token_answer(
    token: str = "tok-1",  # noqa: S107
    expires: float = 4_102_444_800.0,  # 2100-01-01
    regions: tuple[str, ...] = REGIONS,
    default_region: str = "ORD",
    cloud_files: bool = True,
    storage: dict[str, tuple[str, str]] | None = None,
) -> dict:
    """``storage`` replaces some regions' Cloud Files URLs: ``{region: (public, internal)}``."""
    storage = storage or {}
    catalog = [
        {
            "name": "cloudFilesCDN",
            "type": "rax:object-cdn",
            "endpoints": [
                {
                    "region": r,
                    "tenantId": TENANT,
                    "publicURL": f"https://cdn1.clouddrive.com/v1/{TENANT}",
                }
                for r in regions
            ],
        },
        {
            "name": "cloudServersOpenStack",
            "type": "compute",
            "endpoints": [
                {
                    "region": r,
                    "tenantId": "123456",
                    "publicURL": f"https://{r.lower()}.servers.api.rackspacecloud.com/v2/123456",
                    "versionInfo": f"https://{r.lower()}.servers.api.rackspacecloud.com/v2",
                    "versionId": "2",
                }
                for r in regions
            ],
        },
    ]
    if cloud_files:
        urls = {r: storage.get(r, (public_url(r), internal_url(r))) for r in regions}
        catalog.append(
            {
                "name": "cloudFiles",
                "type": "object-store",
                "endpoints": [
                    {"region": r, "tenantId": TENANT, "publicURL": pub, "internalURL": snet}
                    for r, (pub, snet) in urls.items()
                ],
            }
        )
    stamp = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {
        "access": {
            "token": {
                "id": token,
                "expires": stamp,
                "tenant": {"id": "123456", "name": "123456"},
                "RAX-AUTH:authenticatedBy": ["APIKEY"],
            },
            "serviceCatalog": catalog,
            "user": {
                "id": "172157",
                "name": "alice",
                "roles": [{"id": "3", "name": "identity:user-admin"}],
                "RAX-AUTH:defaultRegion": default_region,
            },
        }
    }


def mock_identity(
    mock: requests_mock.Mocker,
    swift: SwiftAccount | None,
    *answers: dict[str, Any],
    region: str = "ORD",
) -> Any:
    """Rackspace identity's ``POST /tokens`` on ``mock``, answering ``answers`` in turn.

    Each answer is :func:`token_answer` with those keywords (the last one repeats). With a
    ``swift``, Cloud Files in ``region`` is that Swift (public URL, and ServiceNet as the internal
    one) and the token is the one its tempauth issues at the time of the call, unless an answer
    names its own.
    """

    def answer(changes: dict[str, Any]):
        def body(request, context) -> dict:
            if swift is None:
                return token_answer(**changes)
            storage = {region: (swift.public_url, swift.internal_url)}
            return token_answer(**{"token": swift.token(), "storage": storage} | changes)

        return {"json": body, "status_code": 200}

    return mock.post(f"{IDENTITY}/tokens", [answer(c) for c in answers or ({},)])
