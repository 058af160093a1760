"""``upload_id``: an :class:`Upload` signed into a stateless id, so any worker of any instance
can serve any call."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import NamedTuple

from itsdangerous import BadSignature, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode, int_to_bytes

from .plans import PartPlan

SALT = "upload-signer/upload-id/v1"
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))  # itsdangerous' form, built once


class Upload(NamedTuple):
    """What an ``upload_id`` stands for, in this order (a tuple: cheap to build on every POST)."""

    object_name: str
    subject: str
    filename: str
    content_type: str
    size: int | None
    part_size: int | None = None  # None: one PUT; else a segmented upload

    @property
    def part_count(self) -> int:
        """1 for a single PUT."""
        plan = self.plan
        return plan.part_count if plan is not None else 1

    @property
    def plan(self) -> PartPlan | None:
        if self.part_size is None or self.size is None:
            return None
        return PartPlan(self.size, self.part_size)


class UnknownUploadId(ValueError):
    """Not an upload_id this service issued, or expired."""


def upload_id_secret(tempurl_key: str) -> str:
    """Without SECRET_KEY, every worker and instance derives this same secret from the key."""
    return hmac.new(
        tempurl_key.encode(), b"upload-signer upload-id secret v1", "sha256"
    ).hexdigest()


class UploadIds:
    def __init__(self, secret: str, max_age: int) -> None:
        # Reads ids; ``issue`` writes them.
        self._serializer = URLSafeTimedSerializer(
            secret, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )
        # itsdangerous' own key derivation (secret + salt), done once, and an HMAC keyed with it
        # that each id copies: the copy skips OpenSSL's per-call digest lookup and key setup.
        key = self._serializer.make_signer().derive_key()
        self._keyed_hmac = hmac.new(key, digestmod="sha256")
        self.max_age = max_age

    def issue(self, upload: Upload) -> str:
        """What ``self._serializer.dumps`` writes (``payload.timestamp.signature``, base64url,
        HMAC-SHA256), without its layers (an id is issued on every POST /uploads) and without
        its zlib attempt, which costs more CPU than it saves on payloads this short."""
        payload = base64_encode(_COMPACT_JSON.encode(upload).encode())  # a JSON array
        signed = payload + b"." + base64_encode(int_to_bytes(int(time.time())))
        mac = self._keyed_hmac.copy()
        mac.update(signed)
        signature = base64_encode(mac.digest())
        return (signed + b"." + signature).decode("ascii")

    def read(self, upload_id: str) -> Upload:
        try:
            fields = self._serializer.loads(upload_id, max_age=self.max_age)
            return Upload(*fields)
        except (BadSignature, TypeError, ValueError):
            raise UnknownUploadId("unknown or expired upload_id") from None
