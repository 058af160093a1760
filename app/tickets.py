"""``upload_id``: a signed, stateless ticket, so any worker of any instance can serve any call."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode

from .plans import PartPlan

SALT = "upload-signer/upload-id/v1"


@dataclass(frozen=True)
class Ticket:
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


class TicketError(ValueError):
    """Not a ticket this service issued, or expired."""


def ticket_secret(tempurl_key: str) -> str:
    """Without SECRET_KEY, every worker and instance derives this same secret from the key."""
    return hmac.new(
        tempurl_key.encode(), b"upload-signer upload-id secret v1", "sha256"
    ).hexdigest()


class _CachedKeySigner(TimestampSigner):
    """itsdangerous derives the key from the secret on every call; it never changes here."""

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        if secret_key is not None:
            return super().derive_key(secret_key)
        if not hasattr(self, "_derived"):
            self._derived = super().derive_key()
        return self._derived


class _Serializer(URLSafeTimedSerializer):
    """One signer for the process, and no zlib attempt per ticket (it costs more CPU than the
    bytes it saves on these short payloads; reading still accepts a compressed one)."""

    default_signer = _CachedKeySigner

    def make_signer(self, salt: str | bytes | None = None) -> TimestampSigner:
        if salt is not None and salt != self.salt:
            return super().make_signer(salt)
        if not hasattr(self, "_signer"):
            self._signer = super().make_signer()
        return self._signer

    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(self.serializer.dumps(obj, **self.serializer_kwargs).encode())


class TicketSigner:
    def __init__(self, secret: str, max_age: int) -> None:
        self._serializer = _Serializer(
            secret, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )
        self.max_age = max_age

    def issue(self, ticket: Ticket) -> str:
        return self._serializer.dumps(
            [ticket.object_name, ticket.subject, ticket.filename, ticket.content_type,
             ticket.size, ticket.part_size]
        )  # fmt: skip

    def read(self, upload_id: str) -> Ticket:
        try:
            fields = self._serializer.loads(upload_id, max_age=self.max_age)
            return Ticket(*fields)
        except (BadSignature, TypeError, ValueError):
            raise TicketError("unknown or expired upload_id") from None
