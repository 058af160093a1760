"""Bearer authentication: only a known caller may get a TempURL, which can write.

Modes (``AUTH_MODE``, or inferred from the settings): ``token`` (``API_TOKENS``) and ``jwt``
(``JWT_SECRET`` / ``JWT_JWKS_URL``); both may be on. The subject always comes from the
credential, never from the request body.
"""

from __future__ import annotations

import logging

from ..settings.security import SecuritySettings
from .jwts import JwtAuthenticator, JwtRejected, KeysUnavailable, looks_like_jwt
from .tokens import TokenAuthenticator

log = logging.getLogger(__name__)


class Unauthenticated(Exception):
    """The credential is not acceptable; the message is safe for the client (answer 401)."""


class Authenticator:
    def __init__(self, api_tokens: tuple[str, ...], security: SecuritySettings) -> None:
        modes = security.auth_modes
        self.tokens = TokenAuthenticator(api_tokens if "token" in modes else ())
        self.jwt = JwtAuthenticator(security.jwt) if "jwt" in modes else None

    def subject(self, presented: str) -> str:
        """The caller's subject; raises Unauthenticated, or KeysUnavailable (answer 503)."""
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
                raise
        log.info("authentication refused: %s", reason)
        if "expired" in reason:
            raise Unauthenticated("The bearer token has expired.")
        raise Unauthenticated("The bearer token is not valid.")
