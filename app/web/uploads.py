"""The uploads API: sign an upload, its parts, its status, complete it, abort it."""

from __future__ import annotations

import hmac
import json
import logging
import time
from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from pydantic import BaseModel

from ..observability.logs import AUDIT_ENVIRON_KEY
from ..observability.metrics import record_segmented_aborted, record_segmented_completed
from ..storage.signing import iso8601
from ..uploads import policy
from ..uploads.ids import UnknownUploadId, Upload
from ..uploads.service import UploadService
from .authentication import require_auth
from .models import Completion, PartsBatch, UploadStatus
from .problems import ApiError
from .requests import part_number, pinned_etags, upload_request
from .runtime import EXTENSION, Runtime, runtime

bp = Blueprint("uploads", __name__)
log = logging.getLogger("app")  # Flask's app logger, without the proxy lookup


@bp.post("/uploads")
@require_auth
def create_upload() -> Any:
    # The hot path: request-scoped proxies are looked up once (each lookup has a cost).
    subject = g.subject
    filename, content_type, size = upload_request()
    state: Runtime = current_app.extensions[EXTENSION]
    rules = state.policy
    policy.check_size(rules, size)
    policy.check_content_type(rules, content_type)
    ip_range = policy.ip_range(rules, request.remote_addr) if rules.bind_ip else None
    answer = state.uploads().create(subject, filename, content_type, size, ip_range)
    object_name = answer["object_name"]
    if state.access_log_audit:  # gunicorn's access line carries the audit record
        request.environ[AUDIT_ENVIRON_KEY] = {"subject": subject, "object_name": object_name}
    else:
        log.info("signed upload %s for %s", object_name, subject)
    return Response(
        json.dumps(answer) + "\n", 201, {"Cache-Control": "no-store"}, mimetype="application/json"
    )


def owned_upload(upload_id: str) -> tuple[Upload, UploadService]:
    """The caller's own upload, and the service to act on it with: 404 for an id this service
    did not issue or an aborted upload, 403 for another caller's."""
    uploads = runtime().uploads()
    try:
        upload = uploads.ids.read(upload_id)
    except UnknownUploadId:
        raise ApiError(404, "Unknown or expired upload_id.") from None
    if not hmac.compare_digest(upload.subject.encode(), g.subject.encode()):
        raise ApiError(403, "This upload belongs to another caller.")
    if uploads.aborted(upload):
        raise ApiError(404, "This upload was aborted.")
    return upload, uploads


@bp.get("/uploads/<upload_id>")
@require_auth
def upload_status(upload_id: str) -> Any:
    upload, uploads = owned_upload(upload_id)
    count = upload.part_count
    stored = uploads.stored_parts(upload)
    missing = sorted(set(range(1, count + 1)) - set(stored))
    return reply(
        UploadStatus(
            upload_id=upload_id,
            object_name=upload.object_name,
            part_count=count,
            stored_parts=stored,
            missing_parts=missing,
            completed=uploads.published(upload),
        )
    )


@bp.get("/uploads/<upload_id>/parts")
@require_auth
def upload_parts(upload_id: str) -> Any:
    upload, uploads = owned_upload(upload_id)
    if upload.plan is None:
        raise ApiError(409, "This upload is a single PUT; it has no parts.")
    if uploads.published(upload):  # its parts are what was announced: nothing is signed again
        raise ApiError(409, "This upload is completed; its parts can no longer be written.")
    first = part_number(request.args.get("from", "1"))
    expires = int(time.time()) + uploads.settings.tempurl_ttl
    ip_range = policy.ip_range(uploads.rules, request.remote_addr)
    # Past the last part: an empty batch.
    parts = (
        uploads.part_urls(upload, first, expires, ip_range) if first <= upload.part_count else []
    )
    return reply(PartsBatch(parts=parts, expires_at=iso8601(expires)))


@bp.post("/uploads/<upload_id>/complete")
@require_auth
def complete_upload(upload_id: str) -> Any:
    upload, uploads = owned_upload(upload_id)
    pinned = pinned_etags(upload.part_count)
    done = uploads.complete(upload, pinned)  # refusals are UploadRefused: problem details
    # A repeated completion answers the same, but only the first one is announced and counted.
    if uploads.first_completion(upload):
        webhooks = runtime().webhooks
        if webhooks is not None:
            webhooks.send(uploads.completion_event(upload_id, upload, done))
        if upload.plan is not None:
            record_segmented_completed()
    log.info("completed upload %s for %s", done.object_name, g.subject)
    download_url, expires = uploads.download_url(done.object_name, done.filename)
    return reply(
        Completion(
            upload_id=upload_id,
            **asdict(done),
            download_url=download_url,
            download_expires_at=iso8601(expires),
        )
    )


@bp.delete("/uploads/<upload_id>")
@require_auth
def abort_upload(upload_id: str) -> Any:
    upload, uploads = owned_upload(upload_id)
    deleted = uploads.abort(upload)
    if upload.plan is not None:
        record_segmented_aborted()
    log.info(
        "aborted upload %s for %s (%d objects deleted)", upload.object_name, g.subject, deleted
    )
    return "", 204


def reply(body: BaseModel) -> Response:
    """A session answer, built by its model so it is what the document says; never cached."""
    return Response(
        body.model_dump_json() + "\n",
        200,
        {"Cache-Control": "no-store"},
        mimetype="application/json",
    )
