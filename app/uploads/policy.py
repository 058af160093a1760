"""Upload policy: what the service agrees to sign, decided before anything is signed.

``MAX_UPLOAD_SIZE`` (413), ``ALLOWED_CONTENT_TYPES`` (415), per-subject object prefixes,
binding upload URLs to the caller's address, and ``X-Delete-After`` for uploaded objects.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import uuid

from ..settings.security import PolicySettings
from .errors import UploadRefused

# Subjects that are safe as one path segment and in a query string stay readable; any other
# (an IdP's "auth0|123", a URL, "..") becomes a hash. "~" never occurs in the readable form,
# so two subjects never share a prefix.
_READABLE_SUBJECT = re.compile(r"^[A-Za-z0-9_@-][A-Za-z0-9._@:-]{0,63}$")


def subject_prefix(subject: str) -> str:
    if _READABLE_SUBJECT.match(subject):
        return subject + "/"
    return "~" + hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()[:32] + "/"


def object_name(policy: PolicySettings, subject: str) -> str:
    """A fresh object name, under the subject's prefix when prefixes are on.

    The upload URL is still signed for this one object, the narrowest grant; a prefix
    signature (``Signer.sign(prefix=...)``) serves clients that upload many objects.
    """
    prefix = subject_prefix(subject) if policy.subject_prefix else ""
    return prefix + str(uuid.uuid4())


def check_size(policy: PolicySettings, size: int | None) -> None:
    limit = policy.max_upload_size
    if limit is None:
        return
    if size is None:
        # Without a declared size the limit could not be checked at all.
        raise UploadRefused(
            400, "'size' is required: uploads are limited in size.", invalid_params=["size"]
        )
    if size > limit:
        raise UploadRefused(
            413,
            f"The file is {size} bytes; uploads are limited to {limit} bytes.",
            invalid_params=["size"],
            max_upload_size=limit,
        )


def content_type_allowed(patterns: tuple[str, ...], content_type: str) -> bool:
    if not patterns:
        return True
    kind, _, sub = content_type.split(";", 1)[0].strip().lower().partition("/")
    for pattern in patterns:
        p_kind, _, p_sub = pattern.partition("/")
        if p_kind in ("*", kind) and p_sub in ("*", sub):
            return True
    return False


def check_content_type(policy: PolicySettings, content_type: str) -> None:
    if not content_type_allowed(policy.allowed_content_types, content_type):
        raise UploadRefused(
            415,
            f"Uploads of type {content_type.split(';', 1)[0].strip()!r} are not allowed.",
            invalid_params=["content_type"],
            allowed_content_types=list(policy.allowed_content_types),
        )


def ip_range(policy: PolicySettings, remote_addr: str | None) -> str | None:
    """The caller's address for ``temp_url_ip_range`` when binding is on."""
    if not policy.bind_ip:
        return None
    try:
        return str(ipaddress.ip_address(remote_addr or ""))
    except ValueError:
        # Binding was asked for and the address is unusable: refuse rather than sign unbound.
        raise UploadRefused(400, "The client address cannot be determined.") from None


def upload_headers(policy: PolicySettings, content_type: str) -> dict[str, str]:
    return {"Content-Type": content_type} | segment_headers(policy)


def segment_headers(policy: PolicySettings) -> dict[str, str]:
    """Headers every stored piece must carry: parts of a segmented upload and its manifest too."""
    if policy.expire_after is None:
        return {}
    return {"X-Delete-After": str(policy.expire_after)}


# Types a browser runs as a page (script included) when the storage origin serves them inline,
# which anyone holding a download URL can ask for (TempURL's unsigned ``&inline``).
_ACTIVE_TYPES = frozenset(
    {"text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
     "text/xsl", "text/rdf"}
)  # fmt: skip
INERT_TYPE = "application/octet-stream"


def served_content_type(content_type: str) -> str:
    """The type a published object is served with: the one the policy let through, unless a
    browser would render it as a page (HTML, SVG, any XML), which is served as bytes instead."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media in _ACTIVE_TYPES or media.endswith("+xml") or media.startswith("multipart/"):
        return INERT_TYPE
    return content_type
