"""The OpenAPI 3.1 contract, served at ``/openapi.json`` and checked against real responses.

The bodies are the JSON Schema of the models in ``models.py``, the same the views validate and
answer with; this module adds what models cannot say: paths, statuses, headers, security, and
the limits of the running policy (``MAX_UPLOAD_SIZE``).
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ..settings.security import PolicySettings
from .models import (
    ANSWERS,
    REQUESTS,
    Completion,
    CompletionBatch,
    CompletionBatchRequest,
    CompletionRequest,
    ContractSchema,
    Health,
    PartsBatch,
    Problem,
    Upload,
    UploadBatch,
    UploadBatchRequest,
    UploadRequest,
    UploadStatus,
)
from .runtime import runtime

bp = Blueprint("openapi", __name__)

_REF = "#/components/schemas/{model}"
_, _generated = models_json_schema(
    [(model, "validation") for model in REQUESTS] + [(model, "serialization") for model in ANSWERS],
    ref_template=_REF,
    schema_generator=ContractSchema,
)
SCHEMAS: dict[str, Any] = _generated["$defs"]
# Request bodies stay inline, where the running policy adds its limits.
_UPLOAD_REQUEST = SCHEMAS.pop(UploadRequest.__name__)
_COMPLETION_REQUEST = SCHEMAS.pop(CompletionRequest.__name__)
_UPLOAD_BATCH_REQUEST = SCHEMAS.pop(UploadBatchRequest.__name__)
_COMPLETION_BATCH_REQUEST = SCHEMAS.pop(CompletionBatchRequest.__name__)
DEFAULT_BATCH_MAX = 100


def ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


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
        "content": {"application/problem+json": {"schema": ref(Problem)}},
    }


def _json(description: str, schema: dict[str, Any], **headers: Any) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"X-Request-ID": REQUEST_ID, **headers},
        "content": {"application/json": {"schema": schema}},
    }


UPLOAD_ID = {
    "name": "upload_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1},
}


def upload_request_schema(policy: PolicySettings) -> dict[str, Any]:
    schema = copy.deepcopy(_UPLOAD_REQUEST)
    if policy.max_upload_size is not None:  # then a size is needed, and null no longer absent
        schema["properties"]["size"] |= {"type": "integer", "maximum": policy.max_upload_size}
        schema["required"] = [*schema["required"], "size"]
    return schema


def uploads_request_schema(policy: PolicySettings, batch_max: int) -> dict[str, Any]:
    """One file, or ``{"files": [...]}`` of 1 to ``batch_max`` (a body with ``filename`` is
    one file, whatever else it holds: hence anyOf)."""
    batch = copy.deepcopy(_UPLOAD_BATCH_REQUEST)
    batch["properties"]["files"] |= {"items": upload_request_schema(policy), "maxItems": batch_max}
    return {"anyOf": [upload_request_schema(policy), batch]}


def completions_request_schema(batch_max: int) -> dict[str, Any]:
    schema = copy.deepcopy(_COMPLETION_BATCH_REQUEST)
    schema["properties"]["upload_ids"]["maxItems"] = batch_max
    return schema


def _session_paths() -> dict[str, Any]:
    owner_errors = {
        "401": _problem("No valid bearer credential."),
        "403": _problem("The upload belongs to another caller."),
        "404": _problem("Unknown or expired upload_id."),
        "429": _problem("Rate limit reached.", retry_after=True),
        "503": _problem("Storage not ready or failing.", retry_after=True),
    }
    secured = {"security": [{"bearer": []}], "parameters": [UPLOAD_ID]}
    return {
        "/uploads/{upload_id}": {
            "get": secured | {
                "operationId": "uploadStatus",
                "summary": "Which parts are stored: resume by uploading only the missing ones.",
                "responses": {"200": _json("Stored and missing parts.", ref(UploadStatus))}
                | owner_errors,
            },
            "delete": secured | {
                "operationId": "abortUpload",
                "summary": "Abort: delete what the upload stored; nothing of it is served again.",
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
                    "200": _json("Part URLs.", ref(PartsBatch)),
                    "400": _problem("'from' is not a part number of this upload."),
                    "409": _problem("A single-PUT upload has no parts, or the upload is "
                                    "completed."),
                } | owner_errors,
            }
        },
        "/uploads/{upload_id}/complete": {
            "post": secured | {
                "operationId": "completeUpload",
                "summary": "Check what was uploaded and publish it once; the download URL "
                           "serves it from then on. A repeated call answers the same.",
                "requestBody": {"required": False,
                                "content": {"application/json": {
                                    "schema": copy.deepcopy(_COMPLETION_REQUEST)}}},
                "responses": {
                    "200": _json("The finished object.", ref(Completion)),
                    "400": _problem("The body breaks a rule."),
                    "409": _problem(
                        "Parts missing or wrong (see missing_parts; wrong ones are deleted), "
                        "or a pinned part number beyond the upload's parts."
                    ),
                    "410": _problem("Completed, and the published object deleted since."),
                    "415": _problem("Body not JSON."),
                } | owner_errors,
            }
        },
    }  # fmt: skip


def build_document(policy: PolicySettings, batch_max: int = DEFAULT_BATCH_MAX) -> dict[str, Any]:
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
                    "summary": "Sign a PUT TempURL (and a FormPOST) for a new upload, and a GET "
                    'TempURL that serves it once completed; or, for {"files": [...]}, the '
                    "same for each file (all or nothing).",
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": uploads_request_schema(policy, batch_max)
                            }
                        },
                    },
                    "responses": {
                        "201": _json(
                            "Signed URLs.",
                            {"anyOf": [ref(Upload), ref(UploadBatch)]},
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
                            "a batch over BATCH_MAX, or body too big."
                        ),
                        "415": _problem("Body not JSON, or content type not allowed."),
                        "429": _problem("Rate limit reached.", retry_after=True),
                        "503": _problem(
                            "Storage or identity provider not ready.", retry_after=True
                        ),
                    },
                }
            },
            "/uploads/complete": {
                "post": {
                    "operationId": "completeUploads",
                    "summary": "Complete several uploads: per id, what its own complete answers, "
                    "or its problem.",
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": completions_request_schema(batch_max)}
                        },
                    },
                    "responses": {
                        "200": _json("Each upload's completion or problem.", ref(CompletionBatch)),
                        "400": _problem("The body is not valid JSON or breaks a rule."),
                        "401": _problem("No valid bearer credential."),
                        "413": _problem("More than BATCH_MAX ids, or body too big."),
                        "415": _problem("Body not JSON."),
                        "429": _problem("Rate limit reached.", retry_after=True),
                        "503": _problem("Storage not ready.", retry_after=True),
                    },
                }
            },
            **_session_paths(),
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "summary": "Liveness: the process answers.",
                    "responses": {"200": _json("Alive.", ref(Health))},
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "readyz",
                    "summary": "Readiness: storage prepared and reachable.",
                    "responses": {
                        "200": _json("Ready.", ref(Health)),
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
                    "responses": {
                        "200": _json("The OpenAPI document.", {"type": "object"}),
                        "429": _problem("Rate limit reached.", retry_after=True),
                    },
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
            "schemas": copy.deepcopy(SCHEMAS),
        },
    }


@bp.get("/openapi.json")
def openapi() -> Any:
    state = runtime()
    return jsonify(build_document(state.policy, state.settings.batch_max))
