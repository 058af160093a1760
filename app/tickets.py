"""``upload_id``: a signed, stateless ticket, so any worker of any instance can serve any call."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode, int_to_bytes

from .plans import PartPlan

SALT = "upload-signer/upload-id/v1"
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))  # itsdangerous' form, built once


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


class _Serializer(URLSafeTimedSerializer):
    """Reads tickets (and would write them: ``issue`` below writes the same bytes faster)."""

    def dump_payload(self, obj: Any) -> bytes:
        # No zlib attempt: it costs more CPU than it saves on these short payloads (reading
        # still accepts a compressed one).
        return base64_encode(_COMPACT_JSON.encode(obj).encode())


class TicketSigner:
    def __init__(self, secret: str, max_age: int) -> None:
        self._serializer = _Serializer(
            secret, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )
        # itsdangerous' own key derivation (secret + salt), done once instead of per ticket.
        self._key = self._serializer.make_signer().derive_key()
        self.max_age = max_age

    def issue(self, ticket: Ticket) -> str:
        """Exactly what ``self._serializer.dumps`` writes (``payload.timestamp.signature``,
        base64url, HMAC-SHA256), without its layers: a ticket is issued on every POST /uploads,
        and OpenSSL's one-shot ``hmac.digest`` skips building an HMAC object."""
        fields = [ticket.object_name, ticket.subject, ticket.filename, ticket.content_type,
                  ticket.size, ticket.part_size]  # fmt: skip
        payload = base64_encode(_COMPACT_JSON.encode(fields).encode())
        signed = payload + b"." + base64_encode(int_to_bytes(int(time.time())))
        signature = base64_encode(hmac.digest(self._key, signed, "sha256"))
        return (signed + b"." + signature).decode("ascii")

    def read(self, upload_id: str) -> Ticket:
        try:
            fields = self._serializer.loads(upload_id, max_age=self.max_age)
            return Ticket(*fields)
        except (BadSignature, TypeError, ValueError):
            raise TicketError("unknown or expired upload_id") from None
