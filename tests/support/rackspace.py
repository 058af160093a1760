"""A realistic Rackspace identity v2.0 answer, for requests-mock (no local server can be Rackspace).

Shape taken from Rackspace's identity v2.0 documentation: an API-key ``POST /tokens`` answers
with the token, the user (with ``RAX-AUTH:defaultRegion``) and a catalog where Cloud Files is
``{"name": "cloudFiles", "type": "object-store"}`` with public and internal (ServiceNet) URLs per
region, next to other services (CDN, servers) the store must ignore.
"""

from __future__ import annotations

from datetime import UTC, datetime

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
) -> dict:
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
        catalog.append(
            {
                "name": "cloudFiles",
                "type": "object-store",
                "endpoints": [
                    {
                        "region": r,
                        "tenantId": TENANT,
                        "publicURL": public_url(r),
                        "internalURL": internal_url(r),
                    }
                    for r in regions
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
