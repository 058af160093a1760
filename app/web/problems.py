"""RFC 9457 problem details for every error: JSON, never an HTML page or a traceback."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from ..storage.interface import StorageError
from ..uploads.errors import UploadRefused

log = logging.getLogger(__name__)
PROBLEM_TYPE = "about:blank"


class ApiError(Exception):
    """An error the API answers on purpose, with its status and a detail for the client."""

    def __init__(
        self, status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem_body(status: int, detail: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": PROBLEM_TYPE,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    } | extra


def refusal_body(exc: Exception) -> dict[str, Any]:
    """The problem details of an error the API answers on purpose (ApiError, UploadRefused,
    StorageError), as a JSON object: what one item of a batch answers when it fails."""
    if isinstance(exc, StorageError):
        return problem_body(503, f"Storage failed: {exc}.")
    return problem_body(exc.status, exc.detail, **exc.extra)  # type: ignore[attr-defined]


def problem(
    status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    response = jsonify(problem_body(status, detail, **extra))
    response.status_code = status
    response.mimetype = "application/problem+json"
    response.headers.update(headers or {})
    return response


def _http_error(exc: HTTPException) -> Response:
    headers = {}
    if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    detail = {
        404: f"No endpoint at {request.path}.",
        405: f"{request.method} is not allowed on {request.path}.",
        413: "The request body is larger than 64 KiB.",
    }.get(exc.code or 500, exc.description or "")
    return problem(exc.code or 500, detail, headers)


def _unexpected(exc: Exception) -> Response:
    # The class name only: messages and tracebacks may carry tokens or signed URLs.
    log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.path)
    return problem(500, "The server could not complete the request.")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(
        ApiError, lambda e: problem(e.status, e.detail, e.headers, **e.extra)
    )
    app.register_error_handler(UploadRefused, lambda e: problem(e.status, e.detail, **e.extra))
    app.register_error_handler(
        StorageError, lambda e: problem(503, f"Storage failed: {e}.", {"Retry-After": "5"})
    )
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
