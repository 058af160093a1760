"""``Signer``'s URLs: ``generate_temp_url``'s signature and query, the path percent-encoded."""

from __future__ import annotations

import itertools
from urllib.parse import quote

import pytest
from swiftclient.utils import generate_temp_url

from app.storage.signing import Signer

STORAGE = "https://storage.example:8443/v1/AUTH_acct"
NAMES = ["3f1c2d9e-0000-4000-8000-0123456789ab", "alice@x/ré sumé 📄?.txt", "~0a1b/a%2Fb;c=d"]
IP_RANGES = [None, "203.0.113.7", "2001:db8::/32"]


@pytest.mark.parametrize(
    ("digest", "method", "name", "ip_range", "container"),
    list(
        itertools.product(
            ["sha1", "sha256", "sha512"],
            ["PUT", "GET", "HEAD"],
            NAMES,
            IP_RANGES,
            [None, "uploads_segments"],
        )
    ),
)
def test_signatures_equal_generate_temp_url(digest, method, name, ip_range, container):
    signer = Signer(STORAGE, "uploads", "k3y-of-some-length", digest)
    url = signer.sign(method, name, 1_800_000_000, container=container, ip_range=ip_range)
    path = f"/v1/AUTH_acct/{container or 'uploads'}/{name}"
    reference = generate_temp_url(path, 1_800_000_000, "k3y-of-some-length", method,
                                  absolute=True, ip_range=ip_range, digest=digest)  # fmt: skip
    assert url == "https://storage.example:8443" + quote(path) + "?" + reference.rpartition("?")[2]


def test_prefix_urls_sign_the_prefix():
    signer = Signer(STORAGE, "uploads", "k3y")
    url = signer.sign("PUT", "alice/a/b.txt", 1_800_000_000, prefix="alice/")
    reference = generate_temp_url("/v1/AUTH_acct/uploads/alice/", 1_800_000_000, "k3y", "PUT",
                                  absolute=True, prefix=True)  # fmt: skip
    assert url.endswith("?" + reference.rpartition("?")[2])
