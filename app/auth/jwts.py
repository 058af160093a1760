"""JWT bearer tokens from the site's identity provider (PyJWT).

HS256 tokens are checked with ``JWT_SECRET``; RS256/ES256 tokens with the key named by their
``kid`` in the JWKS at ``JWT_JWKS_URL``. The key set is fetched on first use, then refreshed in
the background before it expires, so a request whose key is known never waits for the identity
provider. A token naming an unknown ``kid`` fetches again at most once per cooldown, and a failed
fetch is remembered for as long: random ``kid``s or an unreachable provider cost one fetch per
cooldown, not one per request.
Each token is verified with exactly one algorithm chosen by where its key comes from, so
``alg=none`` and algorithm confusion (an RSA public key used as an HMAC secret) cannot pass.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

import jwt

from ..settings.security import ASYMMETRIC_ALGORITHMS, JwtSettings

log = logging.getLogger(__name__)
HMAC_ALGORITHM = "HS256"
# Refresh when this share of the lifespan has passed: the new set is in before the old expires.
REFRESH_AT = 0.8


class JwtRejected(Exception):
    """The token is not acceptable; the message is safe for the client and the log."""


class KeysUnavailable(Exception):
    """The identity provider's keys cannot be fetched right now (answer 503, not 401)."""


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


class JwksKeys:
    """The identity provider's signing keys by ``kid``: fetched once, refreshed in the background.

    Known keys stay in use until a fetch replaces them, so an identity provider that is down
    does not turn away callers whose keys are known; it only delays the rotation in of new keys.
    PyJWKClient does the fetching and parsing; it caches neither failures nor ahead of expiry.
    """

    def __init__(
        self,
        client: jwt.PyJWKClient,
        lifespan: float,
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._lifespan, self._cooldown, self._clock = lifespan, cooldown, clock
        self._lock = threading.Lock()  # one fetch at a time; waiters then use its outcome
        self._keys: dict[str, jwt.PyJWK] | None = None
        self._failed = False
        self._next_fetch = 0.0  # no fetch for an unknown kid before this
        self._refresh_at = 0.0
        self._refresher_pid: int | None = None

    def get(self, kid: str) -> jwt.PyJWK:
        """The key named ``kid``; raises KeysUnavailable or JwtRejected."""
        keys = self._keys
        if keys is not None and kid in keys:
            return keys[kid]  # the common case takes no lock
        with self._lock:
            keys = self._keys
            if (keys is None or kid not in keys) and self._clock() >= self._next_fetch:
                self._fetch()
            keys, failed = self._keys, self._failed
        if keys is not None and kid in keys:
            return keys[kid]
        if keys is None or failed:  # perhaps a key rotated in that could not be fetched
            raise KeysUnavailable("identity provider keys unavailable")
        raise JwtRejected("unknown key id")

    def _fetch(self) -> None:
        """Fetch the set (the caller holds the lock); a failure keeps the keys already known."""
        now = self._clock()
        self._next_fetch = now + self._cooldown
        try:
            keys = {key.key_id: key for key in self._client.get_signing_keys(refresh=True)}
        except (jwt.PyJWTError, ValueError, OSError) as exc:  # unreachable, not JSON, no keys
            if not self._failed:
                log.warning("identity provider keys unavailable: %s", type(exc).__name__)
            self._failed = True
            self._refresh_at = now + max(self._cooldown, 1.0)
            return
        if self._failed:
            log.info("identity provider keys fetched again")
        self._keys, self._failed = keys, False
        self._refresh_at = now + self._lifespan * REFRESH_AT
        if self._refresher_pid != os.getpid():  # threads do not survive a fork
            self._refresher_pid = os.getpid()
            threading.Thread(target=self._refresh, name="jwks-refresh", daemon=True).start()

    def _refresh(self) -> None:
        wake = threading.Event()
        while True:
            delay = self._refresh_at - self._clock()
            if delay > 0:
                wake.wait(delay)
                continue
            with self._lock:
                if self._clock() < self._refresh_at:
                    continue
                try:
                    self._fetch()
                except Exception as exc:  # the only thread that refreshes must not end
                    log.warning("refreshing identity provider keys failed: %r", exc)
                    self._refresh_at = self._clock() + max(self._cooldown, 1.0)


class JwtAuthenticator:
    def __init__(self, settings: JwtSettings) -> None:
        self._settings = settings
        self._jwks = (
            JwksKeys(
                jwt.PyJWKClient(
                    settings.jwks_url,
                    cache_keys=False,
                    cache_jwk_set=False,
                    timeout=settings.timeout,
                    headers={"User-Agent": "upload-signer"},
                ),
                lifespan=settings.jwks_cache_seconds,
                cooldown=settings.jwks_cooldown_seconds,
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
            key = self._jwks.get(kid)
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
