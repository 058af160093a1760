"""Start-up preparation of storage: container, its CORS metadata, the account TempURL key.

Every worker of every instance runs this against the same account at once, so each step is
idempotent and converges: no step ever lets two processes settle on different keys.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from ..settings.service import STORAGE_PREFLIGHT_MAX_AGE, Settings
from .interface import ObjectStore, StorageError
from .signing import Signer, signer_for

log = logging.getLogger(__name__)
CORS_ORIGIN_HEADER = "X-Container-Meta-Access-Control-Allow-Origin"
CORS_EXPOSE_HEADER = "X-Container-Meta-Access-Control-Expose-Headers"
CORS_MAX_AGE_HEADER = "X-Container-Meta-Access-Control-Max-Age"
EXPOSED_HEADERS = "etag"


def desired_cors(origins: tuple[str, ...]) -> dict[str, str]:
    # Swift splits the allowed origins on spaces; a comma-joined list matches nothing.
    return {
        CORS_ORIGIN_HEADER: " ".join(origins),
        CORS_EXPOSE_HEADER: EXPOSED_HEADERS,
        CORS_MAX_AGE_HEADER: str(STORAGE_PREFLIGHT_MAX_AGE),
    }


def ensure_container(store: ObjectStore, container: str, origins: tuple[str, ...]) -> None:
    wanted = desired_cors(origins)
    current = store.container_metadata(container)
    if current is None:
        log.info("creating container %r", container)
        store.create_container(container, {k: v for k, v in wanted.items() if v})
        return
    changes: dict[str, str] = {}
    for header, value in wanted.items():
        if current.get(header.lower(), "") != value:
            # An empty origin list must remove old origins, not leave them allowed.
            name = (
                header if value else header.replace("X-Container-Meta-", "X-Remove-Container-Meta-")
            )
            changes[name] = value or "x"
    if changes:
        log.info("updating CORS metadata of container %r", container)
        store.update_container(container, changes)


def derived_key(secret: str, storage_url: str) -> str:
    """The key every process of every instance computes alike for the same account.

    A randomly generated key would need a lock Swift does not offer: two workers generating
    at once would each sign with their own key while only the last one written verifies.
    An HMAC of the storage secret is as strong as that secret, which already grants full
    access to the account (and so to its key) anyway.
    """
    message = f"upload-signer tempurl key v1\n{storage_url}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def ensure_tempurl_key(store: ObjectStore, configured: str | None, secret: str) -> str:
    key, key2 = store.tempurl_keys()
    if configured:
        if configured not in (key, key2):
            # Rotation: the new key signs; the old one keeps verifying URLs already handed out.
            log.info("setting the configured TEMPURL_KEY on the account (old key kept as Key-2)")
            store.set_tempurl_keys(configured, key)
        return configured
    if key:
        return key
    log.info("the account has no TempURL key: setting one derived from the storage secret")
    store.set_tempurl_keys(derived_key(secret, store.public_url), key2)
    # Adopt whatever is stored now, in case another process or operator wrote a key meanwhile.
    stored, _ = store.tempurl_keys()
    if not stored:
        raise StorageError("account TempURL key was not stored (is the user an account admin?)")
    return stored


def prepare(store: ObjectStore, settings: Settings) -> Signer:
    """Authenticate, ensure the containers with CORS and the TempURL key; return the signer."""
    store.authenticate()
    # Browsers PUT segments of large files straight into the segments container too.
    for container in (settings.container, settings.segments_container):
        ensure_container(store, container, settings.cors_origins)
    configured = settings.tempurl_key.get_secret_value() if settings.tempurl_key else None
    key = ensure_tempurl_key(store, configured, settings.storage.secret)
    return signer_for(store, settings.container, key, settings.tempurl_digest)
