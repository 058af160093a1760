"""Request bodies: parsed and validated before any view acts on them."""

from __future__ import annotations

import json
import mimetypes
import re
from typing import Any

from flask import request

from ..uploads.filenames import MAX_FILENAME_LENGTH, clean_filename
from .problems import ApiError

DEFAULT_CONTENT_TYPE = "application/octet-stream"
_MIME_CHARS = r"[A-Za-z0-9!#$&^_.+-]+"
VISIBLE = re.compile(r"[^.\s]")  # a file name needs one character other than dots and spaces
ETAG = re.compile(r'^[0-9a-fA-F]{32}$|^"[0-9a-fA-F]{32}"$')
CONTENT_TYPE = re.compile(
    rf'^{_MIME_CHARS}/{_MIME_CHARS}(\s*;\s*{_MIME_CHARS}=({_MIME_CHARS}|"[^"\\\x00-\x1f]*"))*$'
)


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
    """``POST /uploads``: the cleaned file name, the media type and the declared size."""
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


def pinned_etags(part_count: int) -> dict[int, str]:
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
    if beyond := sorted(n for n in pinned if n > part_count):
        raise ApiError(409, f"This upload has {part_count} part(s); there is no part {beyond[0]}.")
    return pinned


def part_number(raw: str) -> int:
    """``?from=N`` of ``GET /uploads/<id>/parts``."""
    if not raw.isdigit() or int(raw) < 1:
        raise ApiError(400, "'from' must be a part number (1 or more).", invalid_params=["from"])
    return int(raw)
