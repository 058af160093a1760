"""The OpenAPI 3.1 contract, served at ``/openapi.json`` and checked against real responses.

Built in code so the limits it states (file name length, ``MAX_UPLOAD_SIZE``) are the ones
the running service enforces.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify

from .filenames import DROPPED_RANGES, MAX_FILENAME_LENGTH
from .security_config import PolicySettings

bp = Blueprint("contract", __name__)

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


def build_document(policy: PolicySettings) -> dict[str, Any]:
    upload_response = {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "object_name",
            "upload_url",
            "upload_method",
            "upload_headers",
            "download_url",
            "expires_at",
            "download_expires_at",
            "filename",
        ],
        "properties": {
            "object_name": {"type": "string", "minLength": 1},
            "upload_url": {"type": "string", "format": "uri"},
            "upload_method": {"const": "PUT"},
            "upload_headers": {
                "type": "object",
                "required": ["Content-Type"],
                "additionalProperties": {"type": "string"},
                "description": "Headers the client must send with the PUT "
                "(X-Delete-After when UPLOAD_EXPIRE_AFTER is set).",
            },
            "download_url": {"type": "string", "format": "uri"},
            "expires_at": {"type": "string", "format": "date-time"},
            "download_expires_at": {"type": "string", "format": "date-time"},
            "filename": {"type": "string", "minLength": 1, "maxLength": MAX_FILENAME_LENGTH},
        },
    }
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
                        "413": _problem("Declared size above MAX_UPLOAD_SIZE, or body too big."),
                        "415": _problem("Body not JSON, or content type not allowed."),
                        "429": _problem("Rate limit reached.", retry_after=True),
                        "503": _problem(
                            "Storage or identity provider not ready.", retry_after=True
                        ),
                    },
                }
            },
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
                "Upload": upload_response,
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
                        "allowed_content_types": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    }


@bp.get("/openapi.json")
def openapi() -> Any:
    return jsonify(build_document(current_app.extensions["upload_signer.policy"]))
