"""Abuse limits on signing (flask-limiter): ``RATE_LIMIT`` per subject, ``RATE_LIMIT_PER_IP``.

Counters live in memory (per process) unless ``RATELIMIT_STORAGE_URI`` points at a shared
store such as Redis; if that store fails, each process falls back to memory instead of
refusing or waving everything through.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

from flask import Flask, Response, request
from flask_limiter import Limiter, RateLimitExceeded

from ..settings.security import LimitSettings
from .authentication import authenticate
from .problems import ApiError, problem

log = logging.getLogger(__name__)
LIMITED_ENDPOINTS = ("uploads.create_upload",)
STORAGE_TIMEOUT = 1.0  # seconds; a slow Redis must not hold a signing request


def client_address() -> str:
    # remote_addr is the peer, or the address TRUSTED_PROXIES hops vouch for (ProxyFix).
    return "ip:" + (request.remote_addr or "unknown")


def subject_key() -> str:
    # Authenticates now (cached for the view); failures share one bucket, the view then says 401.
    try:
        return "sub:" + authenticate()
    except ApiError:
        return "unauthenticated"


def _retry_after(limiter: Limiter) -> int:
    try:
        current = limiter.current_limit
        if current is not None:
            return max(1, int(current.reset_at - time.time()) + 1)
    except Exception:  # the counter store itself may be down
        log.warning("rate limit storage unreachable while computing Retry-After")
    return 60


def init_limits(app: Flask, settings: LimitSettings) -> Limiter | None:
    if not (settings.per_subject or settings.per_ip):
        return None
    options = {}
    if urlsplit(settings.storage_uri).scheme.startswith("redis"):
        options = {"socket_timeout": STORAGE_TIMEOUT, "socket_connect_timeout": STORAGE_TIMEOUT}
    limiter = Limiter(
        key_func=client_address,
        app=app,
        storage_uri=settings.storage_uri,
        storage_options=options,
        strategy="moving-window",
        key_prefix="upload-signer",
        in_memory_fallback_enabled=True,
        headers_enabled=False,
    )
    for endpoint in LIMITED_ENDPOINTS:
        view = app.view_functions[endpoint]
        if settings.per_subject:
            view = limiter.limit(settings.per_subject, key_func=subject_key)(view)
        if settings.per_ip:
            view = limiter.limit(settings.per_ip, key_func=client_address)(view)
        app.view_functions[endpoint] = view

    @app.errorhandler(RateLimitExceeded)
    def too_many(exc: RateLimitExceeded) -> Response:
        return problem(
            429,
            f"Too many requests: the limit is {exc.limit.limit}.",
            {"Retry-After": str(_retry_after(limiter))},
        )

    return limiter
