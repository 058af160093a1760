"""Bearer authentication: only a known caller may get a TempURL, which can write.

Modes (``AUTH_MODE``, or inferred from the settings): ``token`` (``API_TOKENS``) and ``jwt``
(``JWT_SECRET`` / ``JWT_JWKS_URL``); both may be on. The subject always comes from the
credential, never from the request body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, g, request

from .errors import ApiError
from .jwt_auth import JwtAuthenticator, JwtRejected, KeysUnavailable, looks_like_jwt
from .security_config import SecuritySettings
from .tokens import TokenAuthenticator

log = logging.getLogger(__name__)
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="upload-signer"'}
MAX_CREDENTIAL_LENGTH = 8192


class Authenticator:
    def __init__(self, api_tokens: tuple[str, ...], security: SecuritySettings) -> None:
        modes = security.auth_modes
        self.tokens = TokenAuthenticator(api_tokens if "token" in modes else ())
        self.jwt = JwtAuthenticator(security.jwt) if "jwt" in modes else None

    def subject(self, presented: str) -> str:
        """The caller's subject; raises ApiError 401 (or 503 when JWKS cannot be fetched)."""
        subject = self.tokens.subject(presented) if self.tokens else None
        if subject is not None:
            return subject
        reason = "unknown token"
        if self.jwt is not None and looks_like_jwt(presented):
            try:
                return self.jwt.subject(presented)
            except JwtRejected as exc:
                reason = str(exc)
            except KeysUnavailable as exc:
                log.warning("authentication unavailable: %s", exc)
                raise ApiError(
                    503, "Authentication is unavailable, try again later.", {"Retry-After": "5"}
                ) from None
        log.info("authentication refused: %s", reason)
        detail = "The bearer token has expired." if "expired" in reason else None
        raise ApiError(
            401,
            detail or "The bearer token is not valid.",
            {"WWW-Authenticate": CHALLENGE["WWW-Authenticate"] + ', error="invalid_token"'},
        )


def bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "Send 'Authorization: Bearer <token>'.", CHALLENGE)
    if len(token) > MAX_CREDENTIAL_LENGTH:
        raise ApiError(401, "The bearer token is not valid.", CHALLENGE)
    return token.strip()


def authenticate() -> str:
    """The request's subject, authenticated once per request (the outcome is kept in ``g``)."""
    if "subject" in g:
        return g.subject
    if "auth_error" in g:
        raise g.auth_error
    try:
        g.subject = current_app.extensions["upload_signer.auth"].subject(bearer_token())
    except ApiError as exc:
        g.auth_error = exc
        raise
    return g.subject


def require_auth(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        authenticate()
        return view(*args, **kwargs)

    return wrapped
