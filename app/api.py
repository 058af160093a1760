"""The JSON API: sign uploads, and tell whether the process is alive and ready."""

from __future__ import annotations

import json
import mimetypes
import re
import time
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request

from . import policy
from .auth import require_auth
from .errors import ApiError
from .filenames import MAX_FILENAME_LENGTH, clean_filename
from .readiness import StorageState
from .security_config import PolicySettings
from .signing import Signer, iso8601

bp = Blueprint("api", __name__)
RETRY_AFTER = {"Retry-After": "5"}
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_MIME_CHARS = r"[A-Za-z0-9!#$&^_.+-]+"
CONTENT_TYPE = re.compile(
    rf'^{_MIME_CHARS}/{_MIME_CHARS}(\s*;\s*{_MIME_CHARS}=({_MIME_CHARS}|"[^"\\\x00-\x1f]*"))*$'
)


def upload_policy() -> PolicySettings:
    return current_app.extensions["upload_signer.policy"]


def storage_state() -> StorageState:
    return current_app.extensions["upload_signer.storage"]


def ready_signer() -> Signer:
    signer = storage_state().signer
    if signer is None:
        raise ApiError(503, f"Storage is not ready: {storage_state().problem}.", RETRY_AFTER)
    return signer


def json_body() -> dict[str, Any]:
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise ApiError(415, "Send the request body as application/json.")
    try:
        body = json.loads(request.get_data(cache=False) or b"")
    except (ValueError, RecursionError):
        raise ApiError(400, "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


def field(body: dict[str, Any], name: str, kind: type, required: bool = False) -> Any:
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(400, f"'{name}' is required.", invalid_params=[name])
        return None
    if kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON Schema counts 5.0 as an integer
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ApiError(400, f"'{name}' must be a {kind.__name__}.", invalid_params=[name])
    return value


def upload_request() -> tuple[str, str, int | None]:
    body = json_body()
    raw_filename = field(body, "filename", str, required=True)
    filename = clean_filename(raw_filename)
    if not re.search(r"[^.\s]", filename):
        raise ApiError(
            400,
            "'filename' is empty once directory parts and control characters are removed.",
            invalid_params=["filename"],
        )
    if max(len(raw_filename), len(filename)) > MAX_FILENAME_LENGTH:
        raise ApiError(
            400,
            f"'filename' is longer than {MAX_FILENAME_LENGTH} characters.",
            invalid_params=["filename"],
        )
    content_type = field(body, "content_type", str)
    if content_type is None or not content_type.strip():
        content_type = mimetypes.guess_type(filename, strict=False)[0] or DEFAULT_CONTENT_TYPE
    elif len(content_type) > 255 or not CONTENT_TYPE.match(content_type.strip()):
        raise ApiError(
            400,
            "'content_type' is not a media type like 'image/png'.",
            invalid_params=["content_type"],
        )
    size = field(body, "size", int)
    if size is not None and size < 0:
        raise ApiError(400, "'size' must not be negative.", invalid_params=["size"])
    return filename, content_type.strip(), size


@bp.post("/uploads")
@require_auth
def create_upload() -> Any:
    filename, content_type, size = upload_request()
    rules = upload_policy()
    policy.check_size(rules, size)
    policy.check_content_type(rules, content_type)
    ip_range = policy.ip_range(rules, request.remote_addr)
    signer = ready_signer()
    settings = storage_state().settings
    object_name = policy.object_name(rules, g.subject)
    now = int(time.time())
    upload_expires = now + settings.tempurl_ttl
    download_expires = now + settings.download_ttl
    current_app.logger.info("signed upload %s for %s", object_name, g.subject)
    response = jsonify(
        object_name=object_name,
        upload_url=signer.sign("PUT", object_name, upload_expires, ip_range=ip_range),
        upload_method="PUT",
        upload_headers=policy.upload_headers(rules, content_type),
        download_url=signer.sign("GET", object_name, download_expires, filename=filename),
        expires_at=iso8601(upload_expires),
        download_expires_at=iso8601(download_expires),
        filename=filename,
    )
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz() -> Any:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Any:
    problem = storage_state().check()
    if problem:
        raise ApiError(503, f"Storage is not ready: {problem}.", RETRY_AFTER)
    return jsonify(status="ready", container=storage_state().settings.container)
