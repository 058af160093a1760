"""The OpenAPI 3.1 contract, served at ``/openapi.json`` and checked against real responses.

Built in code so the limits it states (file name length, ``MAX_UPLOAD_SIZE``) are the ones
the running service enforces.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from ..settings.security import PolicySettings
from ..uploads.filenames import DROPPED_RANGES, MAX_FILENAME_LENGTH
from .runtime import runtime

bp = Blueprint("openapi", __name__)

MIME = r"[A-Za-z0-9!#$&^_.+-]+"
CONTENT_TYPE_PATTERN = (
    rf'^\s*(?:{MIME}/{MIME}(?:\s*;\s*{MIME}=(?:{MIME}|"[^"\\\x00-\x1f]*"))*)?\s*$'
)
# Lone surrogates, also dropped, are left out: ECMA-262 and Rust regex engines cannot name them.
# The last path component must keep a character that is not a dot or a space once dropped
# characters are gone: "a/b.txt" is fine ("b.txt"), "dir/", "..", " " and "\u202e" are not.
FILENAME_PATTERN = rf"^(?:[\s\S]*[/\\])?[^/\\]*[^/\\\s.{DROPPED_RANGES}][^/\\]*$"

PROBLEM = {"$ref": "#/components/schemas/Problem"}
REQUEST_ID = {
    "description": "The request id: the caller's X-Request-ID when it is sane, else a new one.",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
}
RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "required": True,
    "schema": {"type": "string", "pattern": r"^[0-9]+$"},
}


def _problem(description: str, retry_after: bool = False) -> dict[str, Any]:
    headers: dict[str, Any] = {"X-Request-ID": REQUEST_ID}
    if retry_after:
        headers["Retry-After"] = RETRY_AFTER
    return {
        "description": description,
        "headers": headers,
        "content": {"application/problem+json": {"schema": PROBLEM}},
    }


def _json(description: str, schema: dict[str, Any], **headers: Any) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"X-Request-ID": REQUEST_ID, **headers},
        "content": {"application/json": {"schema": schema}},
    }


def upload_request_schema(policy: PolicySettings) -> dict[str, Any]:
    # null means "not given", as absence does.
    size: dict[str, Any] = {
        "type": ["integer", "null"],
        "minimum": 0,
        "description": "The file's size in bytes (required when the service limits sizes).",
    }
    if policy.max_upload_size is not None:
        size |= {"type": "integer", "maximum": policy.max_upload_size}
    return {
        "type": "object",
        "required": ["filename", "size"] if policy.max_upload_size is not None else ["filename"],
        "properties": {
            "filename": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_FILENAME_LENGTH,
                "pattern": FILENAME_PATTERN,
                "description": "The download name. Directory parts and control characters are "
                "dropped; quotes, spaces and non-ASCII letters are kept.",
            },
            "content_type": {
                "type": ["string", "null"],
                "maxLength": 255,
                "pattern": CONTENT_TYPE_PATTERN,
                "description": "Media type; guessed from the file name when absent or empty. "
                "Must match ALLOWED_CONTENT_TYPES when that is set (else 415).",
            },
            "size": size,
        },
    }


URI = {"type": "string", "format": "uri"}
DATE_TIME = {"type": "string", "format": "date-time"}
PART = {
    "type": "object",
    "additionalProperties": False,
    "required": ["number", "offset", "length", "upload_url"],
    "properties": {
        "number": {"type": "integer", "minimum": 1, "maximum": 10_000},
        "offset": {"type": "integer", "minimum": 0},
        "length": {"type": "integer", "minimum": 1},
        "upload_url": URI | {"description": "PUT TempURL of this part's segment object."},
    },
}
UPLOAD_COMMON = {
    "upload_id": {"type": "string", "minLength": 1, "description": "Signed, stateless ticket."},
    "object_name": {"type": "string", "minLength": 1},
    "download_url": URI,
    "expires_at": DATE_TIME,
    "download_expires_at": DATE_TIME,
    "filename": {"type": "string", "minLength": 1, "maxLength": MAX_FILENAME_LENGTH},
}


def _upload(segmented: bool) -> dict[str, Any]:
    if segmented:
        own = {
            "segmented": {"const": True},
            "part_size": {"type": "integer", "minimum": 1},
            "part_count": {"type": "integer", "minimum": 1, "maximum": 10_000},
            "parts": {"type": "array", "items": PART, "description": "The first batch."},
            "upload_headers": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Headers every part PUT must carry (may be empty).",
            },
        }
    else:
        own = {
            "segmented": {"const": False},
            "upload_url": URI,
            "upload_method": {"const": "PUT"},
            "upload_headers": {
                "type": "object",
                "required": ["Content-Type"],
                "additionalProperties": {"type": "string"},
                "description": "Headers the client must send with the PUT "
                "(X-Delete-After when UPLOAD_EXPIRE_AFTER is set).",
            },
        }
    properties = UPLOAD_COMMON | own
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(properties),
        "properties": properties,
    }


UPLOAD_ID = {
    "name": "upload_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1},
}


def _session_paths() -> dict[str, Any]:
    owner_errors = {
        "401": _problem("No valid bearer credential."),
        "403": _problem("The upload belongs to another caller."),
        "404": _problem("Unknown or expired upload_id."),
        "503": _problem("Storage not ready or failing.", retry_after=True),
    }
    numbers = {"type": "array", "items": {"type": "integer", "minimum": 1}}
    status = {
        "type": "object",
        "additionalProperties": False,
        "required": ["upload_id", "object_name", "part_count", "stored_parts", "missing_parts"],
        "properties": {
            "upload_id": {"type": "string"},
            "object_name": {"type": "string"},
            "part_count": {"type": "integer", "minimum": 1},
            "stored_parts": numbers,
            "missing_parts": numbers,
        },
    }
    completed = {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "upload_id",
            "object_name",
            "size",
            "etag",
            "content_type",
            "filename",
            "download_url",
            "download_expires_at",
        ],
        "properties": {
            "upload_id": {"type": "string"},
            "object_name": {"type": "string"},
            "size": {"type": "integer", "minimum": 0},
            "etag": {"type": "string"},
            "content_type": {"type": "string"},
            "filename": {"type": "string"},
            "download_url": URI,
            "download_expires_at": DATE_TIME,
        },
    }
    pins = {
        "type": "object",
        "properties": {
            "parts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["number", "etag"],
                    "properties": {
                        "number": {"type": "integer", "minimum": 1},
                        "etag": {
                            "type": "string",
                            "pattern": '^[0-9a-fA-F]{32}$|^"[0-9a-fA-F]{32}"$',
                        },
                    },
                },
            }
        },
    }
    secured = {"security": [{"bearer": []}], "parameters": [UPLOAD_ID]}
    return {
        "/uploads/{upload_id}": {
            "get": secured | {
                "operationId": "uploadStatus",
                "summary": "Which parts are stored: resume by uploading only the missing ones.",
                "responses": {"200": _json("Stored and missing parts.", status)} | owner_errors,
            },
            "delete": secured | {
                "operationId": "abortUpload",
                "summary": "Abort: delete the stored segments (and the object).",
                "responses": {"204": {"description": "Deleted.",
                                      "headers": {"X-Request-ID": REQUEST_ID}}} | owner_errors,
            },
        },
        "/uploads/{upload_id}/parts": {
            "get": {
                "operationId": "uploadParts",
                "summary": "The next batch of freshly signed part URLs.",
                "security": [{"bearer": []}],
                "parameters": [UPLOAD_ID, {"name": "from", "in": "query", "required": False,
                               "schema": {"type": "integer", "minimum": 1}}],
                "responses": {
                    "200": _json("Part URLs.", {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["parts", "expires_at"],
                        "properties": {"parts": {"type": "array", "items": PART},
                                       "expires_at": DATE_TIME},
                    }),
                    "400": _problem("'from' is not a part number of this upload."),
                    "409": _problem("A single-PUT upload has no parts."),
                } | owner_errors,
            }
        },
        "/uploads/{upload_id}/complete": {
            "post": secured | {
                "operationId": "completeUpload",
                "summary": "Check the parts and assemble them (or check the single object).",
                "requestBody": {"required": False,
                                "content": {"application/json": {"schema": pins}}},
                "responses": {
                    "200": _json("The finished object.", completed),
                    "400": _problem("The body breaks a rule."),
                    "409": _problem(
                        "Parts missing or wrong (see missing_parts), or a pinned part number "
                        "beyond the upload's parts."
                    ),
                    "415": _problem("Body not JSON."),
                } | owner_errors,
            }
        },
    }  # fmt: skip


def build_document(policy: PolicySettings) -> dict[str, Any]:
    status = {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string"}, "container": {"type": "string"}},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "upload-signer",
            "version": "1",
            "description": "Signs OpenStack Swift / Rackspace Cloud Files TempURLs so browsers "
            "upload files straight to object storage.",
        },
        "paths": {
            "/uploads": {
                "post": {
                    "operationId": "createUpload",
                    "summary": "Sign a PUT TempURL for a new object and a GET TempURL for it.",
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": upload_request_schema(policy)}},
                    },
                    "responses": {
                        "201": _json(
                            "Signed URLs.",
                            {"$ref": "#/components/schemas/Upload"},
                            **{
                                "Cache-Control": {
                                    "required": True,
                                    "schema": {"const": "no-store"},
                                }
                            },
                        ),
                        "400": _problem("The body is not valid JSON or breaks a rule."),
                        "401": _problem("No valid bearer credential."),
                        "413": _problem(
                            "Declared size above MAX_UPLOAD_SIZE or what the store can hold, "
                            "or body too big."
                        ),
                        "415": _problem("Body not JSON, or content type not allowed."),
                        "429": _problem("Rate limit reached.", retry_after=True),
                        "503": _problem(
                            "Storage or identity provider not ready.", retry_after=True
                        ),
                    },
                }
            },
            **_session_paths(),
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "summary": "Liveness: the process answers.",
                    "responses": {"200": _json("Alive.", status)},
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "readyz",
                    "summary": "Readiness: storage prepared and reachable.",
                    "responses": {
                        "200": _json("Ready.", status),
                        "503": _problem("Storage is not ready.", retry_after=True),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus metrics (keep it from the public at the proxy).",
                    "responses": {
                        "200": {
                            "description": "Prometheus text exposition format.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document.",
                    "responses": {"200": _json("The OpenAPI document.", {"type": "object"})},
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token (API_TOKENS) or a JWT from the identity "
                    "provider (JWT_SECRET / JWT_JWKS_URL).",
                }
            },
            "schemas": {
                "Upload": {"oneOf": [_upload(segmented=False), _upload(segmented=True)]},
                "Problem": {
                    "type": "object",
                    "description": "RFC 9457 problem details.",
                    "required": ["type", "title", "status", "detail"],
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer", "minimum": 400, "maximum": 599},
                        "detail": {"type": "string"},
                        "invalid_params": {"type": "array", "items": {"type": "string"}},
                        "max_upload_size": {"type": "integer"},
                        "missing_parts": {"type": "array", "items": {"type": "integer"}},
                        "allowed_content_types": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    }


@bp.get("/openapi.json")
def openapi() -> Any:
    return jsonify(build_document(runtime().policy))
