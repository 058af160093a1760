"""API tokens from ``API_TOKENS``: ``subject:token``, ``subject:sha256:<hex>`` or a bare token.

Every token is kept only as its SHA-256 digest, and a presented token is hashed and compared with
every entry in constant time, so neither timing nor a memory dump gives a token away.
"""

from __future__ import annotations

import hashlib
import hmac

from ..settings.security import parse_token_entry


class TokenAuthenticator:
    def __init__(self, entries: tuple[str, ...]) -> None:
        self._tokens = [parse_token_entry(entry) for entry in entries]

    def __bool__(self) -> bool:
        return bool(self._tokens)

    def subject(self, presented: str) -> str | None:
        """The caller's subject for a valid token, else None; always compares every entry."""
        digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
        matched = None
        for token in self._tokens:
            if hmac.compare_digest(digest, token.digest):
                matched = token.subject
        return matched
