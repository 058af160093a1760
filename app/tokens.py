"""API tokens from ``API_TOKENS``: ``subject:token``, ``subject:sha256:<hex>`` or a bare token.

Every token is kept only as its SHA-256 digest, and a presented token is hashed and compared with
every entry in constant time, so neither timing nor a memory dump gives a token away.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field

from .config import MIN_TOKEN_LENGTH, ConfigError, comma_list

SUBJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
_HASHED = re.compile(r"^(?P<subject>[^:]+):sha256:(?P<hex>[0-9A-Fa-f]{64})$")


@dataclass(frozen=True)
class ApiToken:
    subject: str
    digest: bytes = field(repr=False)


def bare_subject(token: str) -> str:
    # Never the token itself: a short hash names the caller in logs and object names.
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def _check_token(token: str) -> None:
    if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
        raise ConfigError(
            f"API_TOKENS entries must be at least {MIN_TOKEN_LENGTH} characters without spaces"
        )


def _check_subject(subject: str) -> None:
    if not SUBJECT.match(subject):
        raise ConfigError(
            f"API_TOKENS subject {subject!r} must be 1-128 letters, digits or ._@+- "
            "(starting with a letter or digit)"
        )


def parse_entry(entry: str) -> ApiToken:
    """One ``API_TOKENS`` entry. A bare token (no ':') keeps working as before."""
    hashed = _HASHED.match(entry)
    if hashed:
        _check_subject(hashed["subject"])
        return ApiToken(hashed["subject"], bytes.fromhex(hashed["hex"]))
    subject, sep, token = entry.partition(":")
    if not sep:
        _check_token(entry)
        return ApiToken(bare_subject(entry), hashlib.sha256(entry.encode()).digest())
    if token.startswith("sha256:"):
        raise ConfigError("API_TOKENS 'subject:sha256:<hex>' needs exactly 64 hex digits")
    _check_subject(subject)
    _check_token(token)
    return ApiToken(subject, hashlib.sha256(token.encode()).digest())


def usable_token(raw: str) -> str | None:
    """The first token a client can send as it is (not a hash); for ``upload-signer dev``."""
    for entry in comma_list(raw):
        if _HASHED.match(entry):
            continue
        return entry.partition(":")[2] if ":" in entry else entry
    return None


class TokenAuthenticator:
    def __init__(self, entries: tuple[str, ...]) -> None:
        self._tokens = [parse_entry(entry) for entry in entries]

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
