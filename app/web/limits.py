"""Abuse limits (flask-limiter): ``RATE_LIMIT`` per subject, ``RATE_LIMIT_PER_IP`` per address.

``RATE_LIMIT_PER_IP`` is one bucket per address over every request (any path, any outcome: 401s
and 404s too), so guessing tokens or upload ids costs the same everywhere. ``RATE_LIMIT`` gives
each subject one bucket per limited endpoint. Probes and CORS preflights are never counted.

Counters live in memory (per process) unless ``RATELIMIT_STORAGE_URI`` points at a shared
store such as Redis; if that store fails, each process falls back to memory instead of
refusing or waving everything through.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

from flask import Flask, Response, request
from flask_limiter import Limiter, RateLimitExceeded

from ..settings.security import LimitSettings, SecuritySettings
from .authentication import authenticate
from .problems import ApiError, problem
from .requests import completion_ids, upload_requests

log = logging.getLogger(__name__)
# Each has its own RATE_LIMIT bucket per subject: signing, completing and asking for part URLs
# are different steps of one upload, and a shared bucket would make RATE_LIMIT mean a different
# number of uploads for every file size.
# A batch counts each of its files (or uploads) against its endpoint's bucket.
LIMITED_ENDPOINTS = (
    "uploads.create_upload",
    "uploads.complete_upload",
    "uploads.complete_uploads",
    "uploads.upload_parts",
)
# A load balancer probes from one address; counting its probes could take the service out of
# rotation, and they carry no credential to guess.
EXEMPT_ENDPOINTS = ("health.healthz", "health.readyz", "metrics")
UNMATCHED = "<unmatched>"
STORAGE_TIMEOUT = 1.0  # seconds; a slow Redis must not hold a signing request
# gunicorn.conf.py's worker count when WEB_CONCURRENCY is not given.
GUNICORN_DEFAULT_WORKERS = (os.cpu_count() or 1) * 2 + 1
_warned: set[str] = set()


def client_address() -> str:
    # remote_addr is the peer, or the address TRUSTED_PROXIES hops vouch for (ProxyFix).
    return "ip:" + (request.remote_addr or "unknown")


def subject_key() -> str:
    # Authenticates now (cached for the view), which then says 401. A caller without a subject
    # is counted by address: one bad client must not spend every other anonymous caller's budget.
    try:
        return "sub:" + authenticate()
    except ApiError:
        return "unauthenticated:" + client_address()


def _cost() -> int:
    """How many files the request signs or completes: a batch of 50 counts 50."""
    try:
        if request.endpoint == "uploads.create_upload":
            return len(upload_requests()[0])
        if request.endpoint == "uploads.complete_uploads":
            return len(completion_ids())
    except ApiError:
        pass  # the view answers the bad body; counting it once is enough
    return 1


def _request_identifier() -> str:
    # flask-limiter skips requests without an endpoint; an unrouted path (404, 405) must count.
    return request.endpoint or UNMATCHED


def _exempt() -> bool:
    # A preflight carries no credential, and counting it would halve a browser's budget.
    return request.method == "OPTIONS" or request.endpoint in EXEMPT_ENDPOINTS


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
        application_limits=[settings.per_ip] if settings.per_ip else [],
        request_identifier=_request_identifier,
        storage_uri=settings.storage_uri,
        storage_options=options,
        strategy="moving-window",
        key_prefix="upload-signer",
        in_memory_fallback_enabled=True,
        headers_enabled=False,
    )
    limiter.request_filter(_exempt)
    if settings.per_subject:
        for endpoint in LIMITED_ENDPOINTS:
            view = limiter.limit(settings.per_subject, key_func=subject_key, cost=_cost)(
                app.view_functions[endpoint]
            )
            app.view_functions[endpoint] = view

    @app.errorhandler(RateLimitExceeded)
    def too_many(exc: RateLimitExceeded) -> Response:
        return problem(
            429,
            f"Too many requests: the limit is {exc.limit.limit}.",
            {"Retry-After": str(_retry_after(limiter))},
        )

    return limiter


def several_processes(environ: Mapping[str, str] | None = None) -> str | None:
    """What says more than one process serves the app, or None (one process, or no sign).

    gunicorn.conf.py takes its worker count from ``WEB_CONCURRENCY``; without it, gunicorn's
    arbiter still marks the environment its workers inherit with ``SERVER_SOFTWARE=gunicorn/…``,
    and the config then starts 2 x cores + 1 workers (``-w`` may say otherwise, unseen here).
    """
    environ = os.environ if environ is None else environ
    declared = environ.get("WEB_CONCURRENCY", "").strip()
    if declared.isdigit():
        return f"WEB_CONCURRENCY={int(declared)} processes" if int(declared) > 1 else None
    if environ.get("SERVER_SOFTWARE", "").startswith("gunicorn/"):
        return (
            f"gunicorn workers ({GUNICORN_DEFAULT_WORKERS} by default here, WEB_CONCURRENCY unset)"
        )
    return None


def _warn_once(key: str, message: str, *args: object) -> None:
    # create_app may run more than once in a process (tests, reloads); the facts do not change.
    if key not in _warned:
        _warned.add(key)
        log.warning(message, *args)


def warn_about_deployment(security: SecuritySettings) -> None:
    """Start-up warnings for settings whose effect depends on how the service is deployed."""
    limits = security.limits
    processes = several_processes()
    in_memory = urlsplit(limits.storage_uri).scheme == "memory"
    if (limits.per_subject or limits.per_ip) and in_memory and processes:
        _warn_once(
            "memory-limits",
            "rate limits count in memory per process while %s serve the app: each counts "
            "alone, so every limit is in effect multiplied by the number of processes; set "
            "RATELIMIT_STORAGE_URI to a shared store (redis://host:6379/0)",
            processes,
        )
    hops = security.policy.trusted_proxies
    if hops:
        _warn_once(
            "trusted-proxies",
            "TRUSTED_PROXIES=%d: X-Forwarded-For is trusted for %d hop(s), so the port must be "
            "reachable only through the proxy, or any client picks its own address for rate "
            "limits and UPLOAD_BIND_IP; a process cannot see at start whether a proxy is in front",
            hops,
            hops,
        )
