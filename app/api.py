"""The JSON API: sign uploads, and tell whether the process is alive and ready."""

from __future__ import annotations

import hmac
import json
import logging
import mimetypes
import re
import time
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from . import policy
from .auth import require_auth
from .errors import ApiError
from .filenames import MAX_FILENAME_LENGTH, clean_filename
from .logs import ACCESS_LOG_AUDIT, AUDIT_ENVIRON_KEY
from .metrics import record_segmented_aborted, record_segmented_completed
from .plans import PlanError, plan_parts
from .readiness import StorageState
from .security_config import PolicySettings
from .sessions import PartsMissing, UploadSessions
from .signing import Signer, iso8601
from .tickets import Ticket, TicketError

bp = Blueprint("api", __name__)
log = logging.getLogger("app")  # Flask's app logger, without the proxy lookup
RETRY_AFTER = {"Retry-After": "5"}
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_MIME_CHARS = r"[A-Za-z0-9!#$&^_.+-]+"
VISIBLE = re.compile(r"[^.\s]")  # a file name needs one character other than dots and spaces
ETAG = re.compile(r'^[0-9a-fA-F]{32}$|^"[0-9a-fA-F]{32}"$')
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
    if not VISIBLE.search(filename):
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
    # The hot path: look the request-scoped proxies up once (each lookup has a cost).
    subject = g.subject
    filename, content_type, size = upload_request()
    extensions = current_app.extensions
    rules: PolicySettings = extensions["upload_signer.policy"]
    state: StorageState = extensions["upload_signer.storage"]
    policy.check_size(rules, size)
    policy.check_content_type(rules, content_type)
    ip_range = policy.ip_range(rules, request.remote_addr) if rules.bind_ip else None
    signer = state.signer
    if signer is None:
        signer = ready_signer()  # raises the 503
    settings = state.settings
    object_name = policy.object_name(rules, subject)
    now = int(time.time())
    upload_expires = now + settings.tempurl_ttl
    download_expires = now + settings.download_ttl
    ticket = Ticket(object_name, subject, filename, content_type, size)
    limit = min(settings.segment_threshold, state.limits.max_file_size)
    segmented = size is not None and size > limit
    answer: dict[str, Any] = {"upload_id": "", "object_name": object_name}
    if segmented:
        try:
            plan = plan_parts(size, settings.segment_size, state.limits.max_file_size,
                              state.limits.max_manifest_segments)  # fmt: skip
        except PlanError as exc:
            raise ApiError(413, f"The file is too large for this store: {exc}.") from None
        ticket = ticket._replace(part_size=plan.part_size)
        answer |= {
            "upload_id": state.tickets.issue(ticket),
            "part_size": plan.part_size,
            "part_count": plan.part_count,
            "parts": sessions().part_urls(ticket, 1, upload_expires, ip_range),
            # Parts carry no Content-Type (the manifest does), but do carry X-Delete-After.
            "upload_headers": policy.segment_headers(rules),
        }
    else:
        answer |= {
            "upload_id": state.tickets.issue(ticket),
            "upload_url": signer.sign("PUT", object_name, upload_expires, ip_range=ip_range),
            "upload_method": "PUT",
            "upload_headers": policy.upload_headers(rules, content_type),
        }
    answer |= {
        "download_url": signer.sign("GET", object_name, download_expires, filename=filename),
        "expires_at": iso8601(upload_expires),
        "download_expires_at": iso8601(download_expires),
        "filename": filename,
        "segmented": segmented,
    }
    if extensions.get(ACCESS_LOG_AUDIT):  # gunicorn's access line carries the audit record
        request.environ[AUDIT_ENVIRON_KEY] = {"subject": subject, "object_name": object_name}
    else:
        log.info("signed upload %s for %s", object_name, subject)
    return Response(
        json.dumps(answer) + "\n", 201, {"Cache-Control": "no-store"}, mimetype="application/json"
    )


def sessions() -> UploadSessions:
    state = storage_state()
    headers = policy.segment_headers(upload_policy())
    return UploadSessions(state.store, state.settings, ready_signer(), headers)


def owned_ticket(upload_id: str) -> tuple[Ticket, UploadSessions]:
    """The caller's own upload, and the sessions to act on it with: 404 for an id this service
    did not issue or an aborted upload, 403 for another caller's."""
    uploads = sessions()
    try:
        ticket = storage_state().tickets.read(upload_id)
    except TicketError:
        raise ApiError(404, "Unknown or expired upload_id.") from None
    if not hmac.compare_digest(ticket.subject.encode(), g.subject.encode()):
        raise ApiError(403, "This upload belongs to another caller.")
    if uploads.aborted(ticket):
        raise ApiError(404, "This upload was aborted.")
    return ticket, uploads


@bp.get("/uploads/<upload_id>")
@require_auth
def upload_status(upload_id: str) -> Any:
    ticket, uploads = owned_ticket(upload_id)
    count = ticket.part_count
    stored = uploads.stored_parts(ticket)
    missing = sorted(set(range(1, count + 1)) - set(stored))
    return no_store(jsonify(upload_id=upload_id, object_name=ticket.object_name, part_count=count,
                            stored_parts=stored, missing_parts=missing))  # fmt: skip


@bp.get("/uploads/<upload_id>/parts")
@require_auth
def upload_parts(upload_id: str) -> Any:
    ticket, uploads = owned_ticket(upload_id)
    if ticket.plan is None:
        raise ApiError(409, "This upload is a single PUT; it has no parts.")
    raw = request.args.get("from", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise ApiError(400, "'from' must be a part number (1 or more).", invalid_params=["from"])
    expires = int(time.time()) + storage_state().settings.tempurl_ttl
    ip_range = policy.ip_range(upload_policy(), request.remote_addr)
    first = int(raw)  # past the last part: an empty batch
    parts = (
        uploads.part_urls(ticket, first, expires, ip_range)
        if first <= ticket.plan.part_count
        else []
    )
    return no_store(jsonify(parts=parts, expires_at=iso8601(expires)))


@bp.post("/uploads/<upload_id>/complete")
@require_auth
def complete_upload(upload_id: str) -> Any:
    ticket, uploads = owned_ticket(upload_id)
    pinned = pinned_etags(ticket)
    try:
        done = uploads.complete(ticket, pinned)
    except PartsMissing as exc:
        raise ApiError(409, f"The upload is not complete: {exc.detail}.",
                       missing_parts=exc.numbers) from None  # fmt: skip
    settings = storage_state().settings
    expires = int(time.time()) + settings.download_ttl
    event = {
        "type": "upload.completed",
        "upload_id": upload_id,
        "object_name": done.object_name,
        "size": done.size,
        "etag": done.etag,
        "content_type": done.content_type,
        "filename": done.filename,
        "subject": ticket.subject,
        "container": settings.container,
    }
    webhooks = current_app.extensions.get("upload_signer.webhooks")
    if webhooks is not None:
        webhooks.send(event | {"completed_at": iso8601(int(time.time()))})
    if ticket.plan is not None:
        record_segmented_completed()
    log.info("completed upload %s for %s", done.object_name, g.subject)
    download_url = uploads.signer.sign("GET", done.object_name, expires, filename=done.filename)
    return no_store(jsonify(upload_id=upload_id, object_name=done.object_name, size=done.size,
                            etag=done.etag, content_type=done.content_type,
                            filename=done.filename, download_url=download_url,
                            download_expires_at=iso8601(expires)))  # fmt: skip


@bp.delete("/uploads/<upload_id>")
@require_auth
def abort_upload(upload_id: str) -> Any:
    ticket, uploads = owned_ticket(upload_id)
    deleted = uploads.abort(ticket)
    if ticket.plan is not None:
        record_segmented_aborted()
    log.info(
        "aborted upload %s for %s (%d objects deleted)", ticket.object_name, g.subject, deleted
    )
    return "", 204


def pinned_etags(ticket: Ticket) -> dict[int, str]:
    """The optional ``{"parts": [{"number", "etag"}]}`` body of a completion."""
    if not request.get_data(cache=True):
        return {}
    parts = field(json_body(), "parts", list)
    pinned: dict[int, str] = {}
    for item in parts or []:
        if not isinstance(item, dict):
            raise ApiError(400, "'parts' must be a list of objects.", invalid_params=["parts"])
        number = field(item, "number", int, required=True)
        etag = field(item, "etag", str, required=True)
        if number < 1 or not ETAG.match(etag):
            raise ApiError(400, "Each part needs a 'number' (1 or more) and an md5 hex 'etag'.",
                           invalid_params=["parts"])  # fmt: skip
        pinned[number] = etag.strip('"').lower()
    count = ticket.part_count
    if beyond := sorted(n for n in pinned if n > count):
        raise ApiError(409, f"This upload has {count} part(s); there is no part {beyond[0]}.")
    return pinned


def no_store(response: Response) -> Response:
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
