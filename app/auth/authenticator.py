"""Bearer authentication: only a known caller may get a TempURL, which can write.

Modes (``AUTH_MODE``, or inferred from the settings): ``token`` (``API_TOKENS``) and ``jwt``
(``JWT_SECRET`` / ``JWT_JWKS_URL``); both may be on. The subject always comes from the
credential, never from the request body.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from ..settings.security import SecuritySettings
from .jwts import JwtAuthenticator, JwtRejected, KeysUnavailable, looks_like_jwt
from .tokens import TokenAuthenticator

log = logging.getLogger(__name__)
JWT_NAMESPACE = "jwt:"


class Unauthenticated(Exception):
    """The credential is not acceptable; the message is safe for the client (answer 401)."""


@dataclass(frozen=True)
class Identity:
    """Who the caller is: the scheme that vouched for them and the name that scheme gave."""

    scheme: Literal["token", "jwt"]
    name: str

    @property
    def subject(self) -> str:
        """The one string that owns uploads, rate-limit buckets and object prefixes.

        An identity provider may issue any ``sub``, an API token's subject included, so a JWT's
        is namespaced. API-token subjects stay bare: their uploads, prefixes and webhooks keep
        the names they always had, and none of them can contain ``:`` except the ``token:``
        form of a bare token, so no API token subject starts with ``jwt:``.
        """
        return self.name if self.scheme == "token" else JWT_NAMESPACE + self.name


class Authenticator:
    def __init__(self, api_tokens: tuple[str, ...], security: SecuritySettings) -> None:
        modes = security.auth_modes
        self.tokens = TokenAuthenticator(api_tokens if "token" in modes else ())
        self.jwt = JwtAuthenticator(security.jwt) if "jwt" in modes else None

    def subject(self, presented: str) -> str:
        """The caller's namespaced subject (see ``Identity.subject``)."""
        return self.identify(presented).subject

    def identify(self, presented: str) -> Identity:
        """The caller's identity; raises Unauthenticated, or KeysUnavailable (answer 503)."""
        subject = self.tokens.subject(presented) if self.tokens else None
        if subject is not None:
            return Identity("token", subject)
        reason = "unknown token"
        if self.jwt is not None and looks_like_jwt(presented):
            try:
                return Identity("jwt", self.jwt.subject(presented))
            except JwtRejected as exc:
                reason = str(exc)
            except KeysUnavailable as exc:
                log.warning("authentication unavailable: %s", exc)
                raise
        log.info("authentication refused: %s", reason)
        if "expired" in reason:
            raise Unauthenticated("The bearer token has expired.")
        raise Unauthenticated("The bearer token is not valid.")
