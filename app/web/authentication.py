"""The bearer credential of a request, authenticated once per request (kept in ``g``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g, request

from ..auth.authenticator import Identity, Unauthenticated
from ..auth.jwts import KeysUnavailable
from .problems import ApiError
from .runtime import runtime

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="upload-signer"'}
MAX_CREDENTIAL_LENGTH = 8192


def bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "Send 'Authorization: Bearer <token>'.", CHALLENGE)
    if len(token) > MAX_CREDENTIAL_LENGTH:
        raise ApiError(401, "The bearer token is not valid.", CHALLENGE)
    return token.strip()


def _identify(presented: str) -> Identity:
    try:
        return runtime().authenticator.identify(presented)
    except Unauthenticated as exc:
        challenge = CHALLENGE["WWW-Authenticate"] + ', error="invalid_token"'
        raise ApiError(401, str(exc), {"WWW-Authenticate": challenge}) from None
    except KeysUnavailable:
        raise ApiError(
            503, "Authentication is unavailable, try again later.", {"Retry-After": "5"}
        ) from None


def authenticate() -> str:
    """The request's subject, authenticated once per request (the outcome is kept in ``g``).

    ``g.subject`` is the namespaced subject (``jwt:<sub>`` for a JWT) that owns uploads;
    ``g.identity`` keeps the scheme and the credential's own name beside it.
    """
    if "subject" in g:
        return g.subject
    if "auth_error" in g:
        raise g.auth_error
    try:
        identity = _identify(bearer_token())
    except ApiError as exc:
        g.auth_error = exc
        raise
    g.identity, g.subject = identity, identity.subject
    return g.subject


def require_auth(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        authenticate()
        return view(*args, **kwargs)

    return wrapped
