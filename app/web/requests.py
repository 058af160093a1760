"""Request bodies: parsed and validated with the models before any view acts on them."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Mapping
from typing import TypeVar

from flask import request
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from werkzeug.exceptions import RequestEntityTooLarge

from .models import DETAIL, CompletionRequest, UploadRequest
from .problems import ApiError

DEFAULT_CONTENT_TYPE = "application/octet-stream"
Body = TypeVar("Body", bound=BaseModel)

# The messages a client reads for a pydantic error, by its type: of a value of the wrong type…
_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "finite_number": "an integer",
    "list_type": "a list",
}
# …and of a value of the right type that breaks the field's rule, with the parameter to name.
_UPLOAD_RULES = {
    "content_type": ("'content_type' is not a media type like 'image/png'.", "content_type"),
    "size": ("'size' must not be negative.", "size"),
}
_PART = "Each part needs a 'number' (1 or more) and an md5 hex 'etag'."
_COMPLETION_RULES = {"number": (_PART, "parts"), "etag": (_PART, "parts")}


def body_bytes() -> bytes:
    """The request body, 413 when it is over ``MAX_CONTENT_LENGTH``.

    werkzeug refuses a Content-Length over the limit before reading, but a chunked body has no
    length: it reads up to the limit and stops there without a word, so a longer body would be
    parsed cut. gunicorn ends ``wsgi.input`` at the last chunk (``wsgi.input_terminated``), so
    one byte more read from it after a full read tells a body of the limit from a longer one.
    """
    data = request.get_data(cache=True)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(data) >= limit:
        source = request.environ.get("wsgi.input")
        if source is not None and source.read(1):
            raise RequestEntityTooLarge()
    return data


def json_body(model: type[Body], rules: Mapping[str, tuple[str, str]]) -> Body:
    """The request body as ``model``: 415 unless JSON, 400 naming the first field at fault."""
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise ApiError(415, "Send the request body as application/json.")
    raw = body_bytes()
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if exc.errors(include_url=False)[0]["type"] != "json_invalid":
            raise _refusal(exc, rules) from None
    # pydantic's parser refuses some of what json.loads reads: a BOM, UTF-16, lone surrogates
    # ("\udc80", which clean_filename drops), nesting deeper than 200.
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, "The request body is not valid JSON.") from None
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise _refusal(exc, rules) from None


def _refusal(exc: ValidationError, rules: Mapping[str, tuple[str, str]]) -> ApiError:
    errors = exc.errors(include_url=False, include_context=False)
    error = _first(errors)
    loc = error["loc"]
    if not loc:
        return ApiError(400, "The request body must be a JSON object.")
    name = loc[-1]
    if isinstance(name, int):  # an item of a list that is not an object
        return ApiError(400, f"'{loc[0]}' must be a list of objects.", invalid_params=[loc[0]])
    if error["type"] == "missing" or error["input"] is None:  # null means absent
        return ApiError(400, f"'{name}' is required.", invalid_params=[name])
    if error["type"] == DETAIL:
        return ApiError(400, error["msg"], invalid_params=[name])
    if kind := _TYPE_NAMES.get(error["type"]):
        return ApiError(400, f"'{name}' must be {kind}.", invalid_params=[name])
    detail, param = rules.get(str(name), (f"'{name}' breaks its rule.", str(name)))
    return ApiError(400, detail, invalid_params=[param])


def _first(errors: list[ErrorDetails]) -> ErrorDetails:
    """The error a client hears of: fields are checked in order, except that both fields of a
    list item are type-checked before either value is."""
    first = errors[0]
    if len(first["loc"]) > 2 and _is_rule(first):
        for error in errors:
            if error["loc"][:-1] == first["loc"][:-1] and not _is_rule(error):
                return error
    return first


def _is_rule(error: ErrorDetails) -> bool:
    return (
        error["type"] not in _TYPE_NAMES
        and error["type"] != "missing"
        and error["input"] is not None
    )


def upload_request() -> tuple[str, str, int | None]:
    """``POST /uploads``: the cleaned file name, the media type and the declared size."""
    body = json_body(UploadRequest, _UPLOAD_RULES)
    content_type = (
        body.content_type
        or mimetypes.guess_type(body.filename, strict=False)[0]
        or DEFAULT_CONTENT_TYPE
    )
    return body.filename, content_type, body.size


def pinned_etags(part_count: int) -> dict[int, str]:
    """The optional ``{"parts": [{"number", "etag"}]}`` body of a completion."""
    if not body_bytes():
        return {}
    body = json_body(CompletionRequest, _COMPLETION_RULES)
    pinned = {part.number: part.etag.strip('"').lower() for part in body.parts or ()}
    if beyond := sorted(n for n in pinned if n > part_count):
        raise ApiError(409, f"This upload has {part_count} part(s); there is no part {beyond[0]}.")
    return pinned


def part_number(raw: str) -> int:
    """``?from=N`` of ``GET /uploads/<id>/parts``: ASCII digits only, since ``str.isdigit``
    also accepts Arabic-Indic digits and superscripts, which ``int`` then reads or refuses."""
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise ApiError(400, "'from' must be a part number (1 or more).", invalid_params=["from"])
    return int(raw)
