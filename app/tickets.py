"""``upload_id``: a signed, stateless ticket, so any worker of any instance can serve any call."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

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


class TicketSigner:
    def __init__(self, secret: str, max_age: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT)
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
