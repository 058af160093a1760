"""The uploads API: sign an upload, its parts, its status, complete it, abort it."""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from flask.blueprints import BlueprintSetupState
from pydantic import BaseModel
from werkzeug.routing import BaseConverter

from ..observability.logs import AUDIT_ENVIRON_KEY
from ..observability.metrics import record_segmented_aborted, record_segmented_completed
from ..storage.interface import StorageError
from ..storage.signing import iso8601
from ..uploads import policy
from ..uploads.errors import UploadRefused
from ..uploads.ids import UnknownUploadId, Upload
from ..uploads.service import UploadService
from .authentication import require_auth
from .models import (
    Completion,
    CompletionBatch,
    FailedCompletion,
    PartsBatch,
    Problem,
    StoredPart,
    UploadStatus,
)
from .problems import ApiError, refusal_body
from .requests import FileRequest, completion_ids, part_number, pinned_etags, upload_requests
from .runtime import EXTENSION, Runtime, runtime

bp = Blueprint("uploads", __name__)


class UploadIdConverter(BaseConverter):
    """Any path segment but ``complete``: ``/uploads/complete`` is the batch completion, and
    its ``Allow`` must not list the methods of ``/uploads/<upload_id>``. (An upload_id begins
    with the base64 of ``[``, so none is ever ``complete``.)"""

    regex = r"(?!complete(?![^/]))[^/]+"


@bp.record_once
def _register_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters["upload_id"] = UploadIdConverter


log = logging.getLogger("app")  # Flask's app logger, without the proxy lookup


@bp.post("/uploads")
@require_auth
def create_upload() -> Any:
    # The hot path: request-scoped proxies are looked up once (each lookup has a cost).
    subject = g.subject
    files, batch = upload_requests()
    state: Runtime = current_app.extensions[EXTENSION]
    if batch:
        return _create_batch(state, subject, files)
    filename, content_type, size = files[0]
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
    return _signed(answer)


def _create_batch(state: Runtime, subject: str, files: list[FileRequest]) -> Response:
    """All or nothing: every file is checked before any is signed (signing stores nothing)."""
    within_batch_max(state, len(files), "files", "files")
    rules, uploads = state.policy, state.uploads()
    ip_range = policy.ip_range(rules, request.remote_addr) if rules.bind_ip else None
    answers = []
    for index, file in enumerate(files):
        with naming(f"files[{index}]"):
            policy.check_size(rules, file.size)
            policy.check_content_type(rules, file.content_type)
    for index, (filename, content_type, size) in enumerate(files):
        with naming(f"files[{index}]"):
            answers.append(uploads.create(subject, filename, content_type, size, ip_range))
    names = [answer["object_name"] for answer in answers]
    if state.access_log_audit:
        request.environ[AUDIT_ENVIRON_KEY] = {"subject": subject, "object_names": names}
    else:
        log.info("signed %d uploads %s for %s", len(names), " ".join(names), subject)
    return _signed({"files": answers})


def within_batch_max(state: Runtime, count: int, noun: str, param: str) -> None:
    """413 for a batch of more than BATCH_MAX ``noun``, naming the list ``param``."""
    limit = state.settings.batch_max
    if count > limit:
        raise ApiError(413, f"A batch holds at most {limit} {noun}; this one has {count}.",
                       invalid_params=[param])  # fmt: skip


def _signed(answer: dict[str, Any]) -> Response:
    return Response(
        json.dumps(answer) + "\n", 201, {"Cache-Control": "no-store"}, mimetype="application/json"
    )


@contextmanager
def naming(where: str) -> Iterator[None]:
    """A refusal of one file of a batch names it: ``files[3]: …``, ``files[3].size``."""
    try:
        yield
    except UploadRefused as exc:
        params = [f"{where}.{name}" for name in exc.extra.get("invalid_params", [])]
        extra = exc.extra | ({"invalid_params": params} if params else {"invalid_params": [where]})
        raise UploadRefused(exc.status, f"{where}: {exc.detail}", **extra) from None


def owned_upload(upload_id: str) -> tuple[Upload, UploadService]:
    """The caller's own upload, and the service to act on it with."""
    uploads = runtime().uploads()
    return owned_by(uploads, upload_id, g.subject), uploads


def owned_by(uploads: UploadService, upload_id: str, subject: str) -> Upload:
    """404 for an id this service did not issue or an aborted upload, 403 for another
    caller's."""
    try:
        upload = uploads.ids.read(upload_id)
    except UnknownUploadId:
        raise ApiError(404, "Unknown or expired upload_id.") from None
    if not hmac.compare_digest(upload.subject.encode(), subject.encode()):
        raise ApiError(403, "This upload belongs to another caller.")
    if uploads.aborted(upload):
        raise ApiError(404, "This upload was aborted.")
    return upload


@bp.get("/uploads/<upload_id:upload_id>")
@require_auth
def upload_status(upload_id: str) -> Any:
    upload, uploads = owned_upload(upload_id)
    count = upload.part_count
    parts = uploads.stored_parts(upload)
    stored = [part["number"] for part in parts]
    missing = sorted(set(range(1, count + 1)) - set(stored))
    return reply(
        UploadStatus(
            upload_id=upload_id,
            object_name=upload.object_name,
            part_count=count,
            stored_parts=stored,
            missing_parts=missing,
            completed=uploads.published(upload),
            parts=[StoredPart(**part) for part in parts],
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
    upload, _ = owned_upload(upload_id)
    pinned = pinned_etags(upload.part_count)
    return reply(completion(runtime(), upload_id, upload, pinned, g.subject))


@bp.post("/uploads/complete")
@require_auth
def complete_uploads() -> Any:
    """Each id completed as ``POST /uploads/<id>/complete`` would, side by side; one that fails
    answers its problem in its place."""
    ids = completion_ids()
    state, subject = runtime(), g.subject
    within_batch_max(state, len(ids), "uploads", "upload_ids")
    uploads = state.uploads()

    def one(upload_id: str) -> Completion | FailedCompletion:
        try:
            upload = owned_by(uploads, upload_id, subject)
            return completion(state, upload_id, upload, {}, subject)
        except (ApiError, UploadRefused, StorageError) as exc:
            return FailedCompletion(upload_id=upload_id, problem=Problem(**refusal_body(exc)))

    # Problem members a failure lacks are left out, as in a problem+json answer.
    return reply(CompletionBatch(files=list(uploads.side_by_side(one, ids))), exclude_none=True)


def completion(
    state: Runtime, upload_id: str, upload: Upload, pinned: dict[int, str], subject: str
) -> Completion:
    uploads = state.uploads()
    done = uploads.complete(upload, pinned)  # refusals are UploadRefused: problem details
    # A repeated completion answers the same, but only the first one is announced and counted.
    if uploads.first_completion(upload):
        if state.webhooks is not None:
            state.webhooks.send(uploads.completion_event(upload_id, upload, done))
        if upload.plan is not None:
            record_segmented_completed()
    log.info("completed upload %s for %s", done.object_name, subject)
    download_url, expires = uploads.download_url(done.object_name, done.filename)
    return Completion(
        upload_id=upload_id,
        **asdict(done),
        download_url=download_url,
        download_expires_at=iso8601(expires),
    )


@bp.delete("/uploads/<upload_id:upload_id>")
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


def reply(body: BaseModel, exclude_none: bool = False) -> Response:
    """A session answer, built by its model so it is what the document says; never cached."""
    return Response(
        body.model_dump_json(exclude_none=exclude_none) + "\n",
        200,
        {"Cache-Control": "no-store"},
        mimetype="application/json",
    )
