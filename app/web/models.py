"""The API's request and answer bodies: each rule stated once.

The views validate requests and build answers with these models, and ``openapi.py`` publishes
their JSON Schema, so what the document says is what the service checks and sends.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    StringConstraints,
)
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, SkipJsonSchema
from pydantic_core import PydanticCustomError, core_schema

from ..uploads.filenames import FILENAME_PATTERN, MAX_FILENAME_LENGTH, VISIBLE, clean_filename

_MIME = r"[A-Za-z0-9!#$&^_.+-]+"
# Blank (then guessed from the file name) or one media type with parameters; spaces around it
# are stripped.
CONTENT_TYPE_PATTERN = (
    rf'^\s*(?:{_MIME}/{_MIME}(?:\s*;\s*{_MIME}=(?:{_MIME}|"[^"\\\x00-\x1f]*"))*)?\s*$'
)
MAX_CONTENT_TYPE_LENGTH = 255
ETAG_PATTERN = r'^[0-9a-fA-F]{32}$|^"[0-9a-fA-F]{32}"$'  # an md5, bare or quoted
MAX_PARTS = 10_000  # the bound the document sets on part numbers and counts
# The type of errors whose message is the client's detail as it stands.
DETAIL = "detail"


class ContractSchema(GenerateJsonSchema):
    """JSON Schema as the document states it: no per-field titles, ``"type": [t, "null"]`` for
    a field that may be null, and a ``None`` default left unsaid (absent and null are alike)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        inner = self.generate_inner(schema["schema"])
        if isinstance(inner.get("type"), str):
            return inner | {"type": [inner["type"], "null"]}
        return super().nullable_schema(schema)

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        if "default" in schema and schema["default"] is None:
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)


# -- requests ---------------------------------------------------------------------------------
def _json_integer(value: object) -> object:
    # JSON Schema's integer: 5.0 is one, and so is 1e19 (past pydantic's float-to-int range), but
    # true and "5" are not (pydantic's lax mode takes both).
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str | bool):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


def _cleaned_filename(raw: str) -> str:
    name = clean_filename(raw)
    if not VISIBLE.search(name):
        raise PydanticCustomError(
            DETAIL, "'filename' is empty once directory parts and control characters are removed."
        )
    if max(len(raw), len(name)) > MAX_FILENAME_LENGTH:
        raise PydanticCustomError(
            DETAIL, f"'filename' is longer than {MAX_FILENAME_LENGTH} characters."
        )
    return name


def _given_media_type(value: str) -> str | None:
    # Stripped; blank is None (then guessed), and only a media type given is held to the length.
    media_type = value.strip()
    if media_type and len(value) > MAX_CONTENT_TYPE_LENGTH:
        raise PydanticCustomError(
            "string_too_long",
            "String should have at most {max_length} characters",
            {"max_length": MAX_CONTENT_TYPE_LENGTH},
        )
    return media_type or None


# Placed after the bounds, as in Annotated[int, Field(ge=0), JSON_INTEGER]: bounds placed after
# a validator still hold, but reach the JSON Schema as "ge" instead of "minimum".
JSON_INTEGER = BeforeValidator(_json_integer)


class _Body(BaseModel):
    # Python's re, which the patterns were written for (jsonschema and schemathesis read them
    # with it too): its \s is str.strip()'s whitespace, its $ allows a final newline.
    model_config = ConfigDict(regex_engine="python-re")


class UploadRequest(_Body):
    """The file a browser is about to upload."""

    filename: Annotated[str, AfterValidator(_cleaned_filename)] = Field(
        description="The download name. Directory parts and control characters are dropped; "
        "quotes, spaces and non-ASCII letters are kept.",
        # Checked on the cleaned name by _cleaned_filename; the pattern says the same of the raw.
        json_schema_extra={
            "minLength": 1,
            "maxLength": MAX_FILENAME_LENGTH,
            "pattern": FILENAME_PATTERN,
        },
    )
    content_type: (
        Annotated[
            str,
            StringConstraints(pattern=CONTENT_TYPE_PATTERN),
            AfterValidator(_given_media_type),
        ]
        | None
    ) = Field(
        None,
        description="Media type; guessed from the file name when absent or empty. "
        "Must match ALLOWED_CONTENT_TYPES when that is set (else 415).",
        json_schema_extra={"maxLength": MAX_CONTENT_TYPE_LENGTH},  # checked by _given_media_type
    )
    size: Annotated[int, Field(ge=0), JSON_INTEGER] | None = Field(
        None, description="The file's size in bytes (required when the service limits sizes)."
    )


class UploadBatchRequest(_Body):
    """Several files at once: each answered as POST /uploads answers one, in this order."""

    files: list[UploadRequest] = Field(
        min_length=1, description="1 to BATCH_MAX files (default 100)."
    )


class CompletionBatchRequest(_Body):
    """Several uploads to complete at once."""

    upload_ids: list[Name] = Field(min_length=1, description="1 to BATCH_MAX upload ids.")


class PartPin(_Body):
    number: Annotated[int, Field(ge=1), JSON_INTEGER]
    etag: Annotated[str, StringConstraints(pattern=ETAG_PATTERN)]


class CompletionRequest(_Body):
    """Optionally, the etag each part must have."""

    parts: list[PartPin] | None = None


# -- answers ----------------------------------------------------------------------------------
Uri = Annotated[str, Field(json_schema_extra={"format": "uri"})]
DateTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Name = Annotated[str, Field(min_length=1)]
Headers = dict[str, str]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Part(_Answer):
    number: Annotated[int, Field(ge=1, le=MAX_PARTS)]
    offset: Annotated[int, Field(ge=0)]
    length: Annotated[int, Field(ge=1)]
    upload_url: Uri = Field(description="PUT TempURL of this part's segment object.")


class _Signed(_Answer):
    upload_id: Name = Field(description="Signed, stateless ticket.")
    object_name: Name
    download_url: Uri
    expires_at: DateTime
    download_expires_at: DateTime
    filename: Annotated[str, Field(min_length=1, max_length=MAX_FILENAME_LENGTH)]


class UploadForm(_Answer):
    """A Swift FormPOST: storage itself refuses a file over the size signed into it."""

    url: Uri = Field(description="Where the browser POSTs the form (multipart/form-data).")
    fields: Headers = Field(
        description="Form fields to send first, in this order, before the file.",
        json_schema_extra={
            "required": ["redirect", "max_file_size", "max_file_count", "expires", "signature"]
        },
    )
    file_name: Name = Field(
        description="The filename of the form's file part, which must be named 'file'."
    )


class SingleUpload(_Signed):
    segmented: Literal[False]
    upload_url: Uri = Field(description="PUT TempURL (curl -T); nothing it stores is served "
                            "before the upload is completed.")  # fmt: skip
    upload_method: Literal["PUT"]
    upload_headers: Headers = Field(
        description="Headers the client must send with the PUT "
        "(X-Delete-After when UPLOAD_EXPIRE_AFTER is set).",
        json_schema_extra={"required": ["Content-Type"]},
    )
    upload_form: UploadForm | SkipJsonSchema[None] = Field(
        None,
        description="Present where storage offers FormPOST and uploads are not bound to the "
        "caller's address: the same upload as a form, limited in size by storage.",
    )


class SegmentedUpload(_Signed):
    segmented: Literal[True]
    part_size: Annotated[int, Field(ge=1)]
    part_count: Annotated[int, Field(ge=1, le=MAX_PARTS)]
    parts: list[Part] = Field(description="The first batch.")
    upload_headers: Headers = Field(description="Headers every part PUT must carry (may be empty).")


def _one_of(schema: dict[str, Any]) -> None:
    schema["oneOf"] = schema.pop("anyOf")  # exactly one: `segmented` tells them apart


class Upload(RootModel[SingleUpload | SegmentedUpload]):
    """One PUT, or the parts of a segmented upload: ``segmented`` tells which."""

    model_config = ConfigDict(json_schema_extra=_one_of)


class UploadBatch(_Answer):
    """A batch's answer: per file, in request order, what POST /uploads answers for it."""

    files: list[Upload]


class PartsBatch(_Answer):
    parts: list[Part]
    expires_at: DateTime


class StoredPart(_Answer):
    number: Annotated[int, Field(ge=1, le=MAX_PARTS)]
    etag: str = Field(description="The part's MD5, as storage reports it.")
    size: Annotated[int, Field(ge=0)]


class UploadStatus(_Answer):
    upload_id: str
    object_name: str
    part_count: Annotated[int, Field(ge=1)]
    stored_parts: list[Annotated[int, Field(ge=1)]]
    missing_parts: list[Annotated[int, Field(ge=1)]]
    completed: bool = Field(description="True once complete has published the upload.")
    parts: list[StoredPart] = Field(
        description="The stored parts with their etag and size, for a resuming client."
    )


class Completion(_Answer):
    upload_id: str
    object_name: str
    size: Annotated[int, Field(ge=0)]
    etag: str
    content_type: str
    filename: str
    download_url: Uri
    download_expires_at: DateTime


class Health(BaseModel):
    status: str
    container: str | SkipJsonSchema[None] = None  # readiness names it, liveness does not


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: Annotated[int, Field(ge=400, le=599)]
    detail: str
    invalid_params: list[str] | SkipJsonSchema[None] = None
    max_upload_size: int | SkipJsonSchema[None] = None
    missing_parts: list[int] | SkipJsonSchema[None] = None
    allowed_content_types: list[str] | SkipJsonSchema[None] = None


class FailedCompletion(_Answer):
    """One upload of a batch completion that did not complete, and why."""

    upload_id: str
    problem: Problem


class CompletionBatch(_Answer):
    """Per id, in request order: what POST /uploads/<id>/complete answers, or its problem."""

    files: list[Completion | FailedCompletion]


REQUESTS: tuple[type[BaseModel], ...] = (
    UploadRequest,
    UploadBatchRequest,
    CompletionRequest,
    CompletionBatchRequest,
)
ANSWERS: tuple[type[BaseModel], ...] = (
    Upload,
    UploadBatch,
    PartsBatch,
    UploadStatus,
    Completion,
    CompletionBatch,
    Health,
    Problem,
)
