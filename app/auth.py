"""Bearer-token authentication: only a known caller may get a TempURL, which can write."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, g, request

from .errors import ApiError

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="upload-signer"'}


class TokenAuthenticator:
    def __init__(self, tokens: tuple[str, ...]) -> None:
        self._tokens = [token.encode() for token in tokens]

    def subject(self, presented: str) -> str | None:
        """The caller's subject for a valid token, else None; always compares every token."""
        candidate = presented.encode()
        matched = None
        for token in self._tokens:
            if hmac.compare_digest(candidate, token):
                matched = token
        if matched is None:
            return None
        # Never the token itself: a short hash names the caller in logs and object metadata.
        return "token:" + hashlib.sha256(matched).hexdigest()[:16]


def bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "Send 'Authorization: Bearer <token>'.", CHALLENGE)
    return token.strip()


def require_auth(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        subject = current_app.extensions["upload_signer.auth"].subject(bearer_token())
        if subject is None:
            raise ApiError(
                401,
                "The bearer token is not valid.",
                {"WWW-Authenticate": CHALLENGE["WWW-Authenticate"] + ', error="invalid_token"'},
            )
        g.subject = subject
        return view(*args, **kwargs)

    return wrapped
