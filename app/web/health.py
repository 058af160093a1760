"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from .problems import ApiError
from .runtime import RETRY_AFTER, runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Any:
    state = runtime()
    problem = state.storage.check()
    if problem:
        raise ApiError(503, f"Storage is not ready: {problem}.", RETRY_AFTER)
    return jsonify(status="ready", container=state.settings.container)
