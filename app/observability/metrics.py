"""Prometheus metrics, correct across gunicorn's worker processes.

Under gunicorn (``gunicorn.conf.py``) ``PROMETHEUS_MULTIPROC_DIR`` is set before anything imports
prometheus_client, so every worker writes its samples to files there and ``/metrics`` sums them
all, whichever worker answers the scrape. Without it (tests, ``flask run``) the process's own
registry is served. Label values are bounded: endpoints are URL rules, never raw paths.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_START = "upload_signer.started"
# Signing takes about a millisecond; the upper buckets catch a queued or starved worker.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "upload_signer_http_requests",
    "HTTP requests answered, by endpoint (URL rule), method and status.",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "upload_signer_http_request_duration_seconds",
    "Time from the request reaching the app to its response, by endpoint and method.",
    ["endpoint", "method"],
    buckets=LATENCY_BUCKETS,
)
URLS_SIGNED = Counter(
    "upload_signer_urls_signed", "TempURLs signed, by HTTP method they allow.", ["method"]
)
SEGMENTED_COMPLETED = Counter(
    "upload_signer_segmented_uploads_completed", "Segmented uploads whose manifest was created."
)
SEGMENTED_ABORTED = Counter(
    "upload_signer_segmented_uploads_aborted", "Segmented uploads aborted and cleaned up."
)
STORAGE_ERRORS = Counter(
    "upload_signer_storage_errors",
    "Storage calls that failed (refused, timed out or unreachable), by operation.",
    ["operation"],
)
REAUTHENTICATIONS = Counter(
    "upload_signer_storage_reauthentications",
    "Storage tokens fetched again after a first one (expired token, storage restart).",
)
BREAKER_OPENED = Counter(
    "upload_signer_storage_breaker_opened",
    "Times a worker stopped calling storage for a cool-down after consecutive failures.",
)


_SIGNED_BY_METHOD = {method: URLS_SIGNED.labels(method) for method in ("PUT", "GET")}


def record_signed(method: str) -> None:
    (_SIGNED_BY_METHOD.get(method) or URLS_SIGNED.labels(method)).inc()


def record_segmented_completed() -> None:
    SEGMENTED_COMPLETED.inc()


def record_segmented_aborted() -> None:
    SEGMENTED_ABORTED.inc()


def record_storage_error(operation: str) -> None:
    STORAGE_ERRORS.labels(operation).inc()


def record_reauthentication() -> None:
    REAUTHENTICATIONS.inc()


def record_breaker_opened() -> None:
    BREAKER_OPENED.inc()


def _registry() -> CollectorRegistry:
    if not os.environ.get(MULTIPROC_ENV):
        return REGISTRY
    # A fresh registry per scrape: the collector reads every worker's files when collected.
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


def metrics_view() -> Response:
    return Response(generate_latest(_registry()), mimetype=CONTENT_TYPE_LATEST)


def _observe(response: Response) -> Response:
    started = request.environ.get(_START)
    rule = request.url_rule
    endpoint = rule.rule if rule is not None else "<unmatched>"
    REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
    if started is not None:
        LATENCY.labels(endpoint, request.method).observe(time.perf_counter() - started)
    return response


def init_metrics(app: Flask) -> None:
    """Time every request from its first byte in the app, and serve ``GET /metrics``."""
    inner = app.wsgi_app

    # Stamped in the WSGI layer so that time spent in any before_request hook (auth, rate
    # limits) is measured too, whatever order extensions registered their hooks in.
    def timed(environ, start_response):  # type: ignore[no-untyped-def]
        environ[_START] = time.perf_counter()
        return inner(environ, start_response)

    app.wsgi_app = timed  # type: ignore[method-assign]
    app.after_request(_observe)
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
