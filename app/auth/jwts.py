"""JWT bearer tokens from the site's identity provider (PyJWT).

HS256 tokens are checked with ``JWT_SECRET``; RS256/ES256 tokens with the key named by their
``kid`` in the JWKS at ``JWT_JWKS_URL``. The key set is cached and fetched again only when it
expires or a token names an unknown ``kid`` (at most once per cooldown), never per request.
Each token is verified with exactly one algorithm chosen by where its key comes from, so
``alg=none`` and algorithm confusion (an RSA public key used as an HMAC secret) cannot pass.
"""

from __future__ import annotations

import logging

import jwt

from ..settings.security import ASYMMETRIC_ALGORITHMS, JwtSettings

log = logging.getLogger(__name__)
HMAC_ALGORITHM = "HS256"


class JwtRejected(Exception):
    """The token is not acceptable; the message is safe for the client and the log."""


class KeysUnavailable(Exception):
    """The identity provider's keys cannot be fetched right now (answer 503, not 401)."""


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


class JwtAuthenticator:
    def __init__(self, settings: JwtSettings) -> None:
        self._settings = settings
        self._jwks = (
            jwt.PyJWKClient(
                settings.jwks_url,
                cache_keys=False,
                cache_jwk_set=True,
                lifespan=settings.jwks_cache_seconds,
                timeout=settings.timeout,
                cooldown_duration=settings.jwks_cooldown_seconds,
                headers={"User-Agent": "upload-signer"},
            )
            if settings.jwks_url
            else None
        )

    def _key(self, token: str) -> tuple[object, str]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise JwtRejected("malformed token") from None
        alg = header.get("alg")
        if alg == HMAC_ALGORITHM and self._settings.secret:
            return self._settings.secret.get_secret_value(), alg
        if alg in ASYMMETRIC_ALGORITHMS and self._jwks is not None:
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise JwtRejected("token has no key id (kid)")
            try:
                key = self._jwks.get_signing_key(kid)
            except jwt.PyJWKClientConnectionError:
                raise KeysUnavailable("identity provider keys unavailable") from None
            except jwt.PyJWKClientError:
                raise JwtRejected("unknown key id") from None
            # The key decides the algorithm: an RSA key never verifies an ES256 token, etc.
            if key.algorithm_name != alg:
                raise JwtRejected("algorithm does not match the key")
            return key.key, alg
        raise JwtRejected(f"algorithm {str(alg)[:16]!r} is not accepted")

    def subject(self, token: str) -> str:
        """The ``sub`` claim of a valid token; raises JwtRejected or KeysUnavailable."""
        key, alg = self._key(token)
        required = ["exp", "sub"] + [
            claim
            for claim, value in (("aud", self._settings.audience), ("iss", self._settings.issuer))
            if value
        ]
        try:
            claims = jwt.decode(
                token,
                key,  # type: ignore[arg-type]
                algorithms=[alg],
                audience=self._settings.audience,
                issuer=self._settings.issuer,
                leeway=self._settings.leeway,
                options={"require": required, "verify_aud": bool(self._settings.audience)},
            )
        except jwt.ExpiredSignatureError:
            raise JwtRejected("token has expired") from None
        except jwt.ImmatureSignatureError:
            raise JwtRejected("token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise JwtRejected("wrong audience") from None
        except jwt.InvalidIssuerError:
            raise JwtRejected("wrong issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise JwtRejected(f"missing claim {exc.claim!r}") from None
        except jwt.InvalidTokenError:
            raise JwtRejected("invalid signature or token") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject.strip() or len(subject) > 255:
            raise JwtRejected("'sub' must be a non-empty string of at most 255 characters")
        return subject
