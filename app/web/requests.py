"""Request bodies: parsed and validated with the models before any view acts on them."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Mapping
from typing import NamedTuple, TypeVar

from flask import g, request
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from werkzeug.exceptions import RequestEntityTooLarge

from .models import (
    DETAIL,
    CompletionBatchRequest,
    CompletionRequest,
    UploadBatchRequest,
    UploadRequest,
)
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


def json_body(
    model: type[Body],
    rules: Mapping[str, tuple[str, str]],
    batch: tuple[type[BaseModel], str] | None = None,
) -> Body | BaseModel:
    """The request body as ``model``: 415 unless JSON, 400 naming the first field at fault.

    With ``batch`` (a model and its list field), a body holding that field and failing as
    ``model`` is read as the batch instead, and its errors name the item (``files[3].size``).
    """
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise ApiError(415, "Send the request body as application/json.")
    raw = body_bytes()
    try:
        return model.model_validate_json(raw)  # the hot path: one file, valid
    except ValidationError as exc:
        if exc.errors(include_url=False)[0]["type"] != "json_invalid":
            failure: ValidationError | None = exc
        else:
            failure = None
    # pydantic's parser refuses some of what json.loads reads: a BOM, UTF-16, lone surrogates
    # ("\udc80", which clean_filename drops), nesting deeper than 200.
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, "The request body is not valid JSON.") from None
    items = None
    if batch is not None and isinstance(body, dict) and batch[1] in body:
        model, items = batch  # type: ignore[assignment]
    elif failure is not None:
        raise _refusal(failure, rules) from None
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise _refusal(exc, rules, items) from None


def _refusal(
    exc: ValidationError, rules: Mapping[str, tuple[str, str]], items: str | None = None
) -> ApiError:
    """400 naming the first field at fault; in the list ``items`` (a batch's), with its item:
    ``files[3].size``."""
    errors = exc.errors(include_url=False, include_context=False)
    error = _first(errors)
    loc = error["loc"]
    if not loc:
        return ApiError(400, "The request body must be a JSON object.")
    where = ""
    if len(loc) > 2 and loc[0] == items and isinstance(loc[1], int):
        where, loc = f"{loc[0]}[{loc[1]}]", loc[2:]
    name = loc[-1]
    if isinstance(name, int):  # an item of a list that is not an object
        return ApiError(400, f"'{loc[0]}' must be a list of objects.", invalid_params=[loc[0]])
    if error["type"] == "missing" or error["input"] is None:  # null means absent
        detail, param = f"'{name}' is required.", str(name)
    elif error["type"] == DETAIL:
        detail, param = error["msg"], str(name)
    elif kind := _TYPE_NAMES.get(error["type"]):
        detail, param = f"'{name}' must be {kind}.", str(name)
    elif error["type"] == "too_short" and len(loc) == 1:
        detail, param = f"'{name}' must hold at least one item.", str(name)
    else:
        detail, param = rules.get(str(name), (f"'{name}' breaks its rule.", str(name)))
    if where:
        return ApiError(400, f"{where}: {detail}", invalid_params=[f"{where}.{param}"])
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


class FileRequest(NamedTuple):
    """One file of ``POST /uploads``: the cleaned name, the media type, the declared size."""

    filename: str
    content_type: str
    size: int | None


def upload_requests() -> tuple[list[FileRequest], bool]:
    """``POST /uploads``: its files, and whether they came as a batch (``{"files": [...]}``).

    Read once per request (the rate limit counts the files before the view runs).
    """
    cached = g.get("upload_requests")
    if cached is not None:
        return cached
    body = json_body(UploadRequest, _UPLOAD_RULES, (UploadBatchRequest, "files"))
    batch = isinstance(body, UploadBatchRequest)
    files = [_file(item) for item in body.files] if batch else [_file(body)]  # type: ignore[union-attr, arg-type]
    g.upload_requests = files, batch
    return files, batch


def _file(body: UploadRequest) -> FileRequest:
    content_type = (
        body.content_type
        or mimetypes.guess_type(body.filename, strict=False)[0]
        or DEFAULT_CONTENT_TYPE
    )
    return FileRequest(body.filename, content_type, body.size)


def completion_ids() -> list[str]:
    """``POST /uploads/complete``: the upload ids, in order (read once per request)."""
    cached = g.get("completion_ids")
    if cached is None:
        cached = g.completion_ids = list(json_body(CompletionBatchRequest, {}).upload_ids)  # type: ignore[union-attr]
    return cached


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
