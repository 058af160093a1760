"""The models are the one source of each rule: real answers fit them, the document is theirs."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from app import create_app
from app.settings.security import PolicySettings
from app.uploads.filenames import FILENAME_PATTERN
from app.web.models import (
    CONTENT_TYPE_PATTERN,
    ETAG_PATTERN,
    Completion,
    ContractSchema,
    Health,
    PartsBatch,
    Problem,
    SegmentedUpload,
    SingleUpload,
    Upload,
    UploadRequest,
    UploadStatus,
)
from app.web.openapi import SCHEMAS, build_document
from tests.support.constants import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
MIB = 1024 * 1024
REF = "#/components/schemas/{model}"


@pytest.fixture
def segmenting(env):
    """Uploads of more than one byte are segmented into 1 MiB parts."""
    app = create_app(env | {"SEGMENT_THRESHOLD": "1", "SEGMENT_SIZE": "1M"})
    return app.test_client()


def fits(model: type[BaseModel], response, status: int = 200) -> BaseModel:
    assert response.status_code == status, response.get_data(as_text=True)
    return model.model_validate_json(response.get_data())


def test_single_put_answers_fit_their_models(client):
    created = client.post("/uploads", json={"filename": "a.txt", "size": 1}, headers=AUTH)
    answer = fits(Upload, created, 201).root
    assert isinstance(answer, SingleUpload)
    assert requests.put(answer.upload_url, data=b"x", headers=answer.upload_headers).ok
    session = f"/uploads/{answer.upload_id}"
    status = fits(UploadStatus, client.get(session, headers=AUTH))
    assert (status.stored_parts, status.missing_parts) == ([1], [])
    done = fits(Completion, client.post(f"{session}/complete", headers=AUTH))
    assert (done.size, done.filename, done.content_type) == (1, "a.txt", "text/plain")


def test_segmented_answers_fit_their_models(segmenting):
    created = segmenting.post("/uploads", json={"filename": "b.bin", "size": 2 * MIB + 1},
                              headers=AUTH)  # fmt: skip
    answer = fits(Upload, created, 201).root
    assert isinstance(answer, SegmentedUpload)
    assert (answer.part_count, answer.part_size) == (3, MIB)
    session = f"/uploads/{answer.upload_id}"
    batch = fits(PartsBatch, segmenting.get(f"{session}/parts?from=2", headers=AUTH))
    parts = answer.parts + batch.parts
    assert sorted({part.number for part in parts}) == [1, 2, 3]
    assert fits(UploadStatus, segmenting.get(session, headers=AUTH)).missing_parts == [1, 2, 3]
    for part in {part.number: part for part in parts}.values():
        assert requests.put(part.upload_url, data=b"y" * part.length, timeout=30).ok
    done = fits(Completion, segmenting.post(f"{session}/complete", json={}, headers=AUTH))
    assert done.size == 2 * MIB + 1


def test_probes_and_problems_fit_their_models(client):
    assert fits(Health, client.get("/healthz")).container is None
    assert fits(Health, client.get("/readyz")).container == "uploads"
    for response in (
        client.post("/uploads", json={"filename": "a", "size": "1"}, headers=AUTH),
        client.post("/uploads", json={"filename": "a"}),
        client.get("/uploads/nope", headers=AUTH),
        client.get("/nowhere"),
    ):
        problem = Problem.model_validate_json(response.get_data())
        assert problem.status == response.status_code >= 400


def test_answer_models_refuse_what_the_document_refuses():
    with pytest.raises(ValidationError):
        PartsBatch(parts=[], expires_at="2030-01-01T00:00:00Z", extra=1)
    with pytest.raises(ValidationError):
        UploadStatus(upload_id="u", object_name="o", part_count=0, stored_parts=[],
                     missing_parts=[])  # fmt: skip


@pytest.mark.parametrize("limit", [None, 1024])
def test_the_document_states_the_models_schemas_and_the_running_limit(limit):
    document = build_document(PolicySettings.read({"MAX_UPLOAD_SIZE": str(limit or "")}))
    assert document["components"]["schemas"] == SCHEMAS
    for model in (Problem, Completion, Health):
        own = model.model_json_schema(ref_template=REF, schema_generator=ContractSchema)
        assert SCHEMAS[model.__name__] == own
    assert {"Upload", "SingleUpload", "SegmentedUpload", "Part", "PartsBatch", "UploadStatus",
            "Completion", "Health", "Problem", "PartPin"} <= set(SCHEMAS)  # fmt: skip
    either = document["paths"]["/uploads"]["post"]["requestBody"]["content"]["application/json"]
    body, batch = ({"schema": schema} for schema in either["schema"]["anyOf"])
    # A batch's files are each what one file is, its length bounded by BATCH_MAX.
    assert batch["schema"]["properties"]["files"]["items"] == body["schema"]
    assert batch["schema"]["properties"]["files"]["maxItems"] == 100
    properties = body["schema"]["properties"]
    assert properties["filename"]["pattern"] == FILENAME_PATTERN
    assert properties["content_type"]["pattern"] == CONTENT_TYPE_PATTERN
    assert SCHEMAS["PartPin"]["properties"]["etag"]["pattern"] == ETAG_PATTERN
    if limit is None:
        assert properties["size"]["type"] == ["integer", "null"]
        assert body["schema"]["required"] == ["filename"]
    else:
        assert properties["size"] == {
            "type": "integer",
            "minimum": 0,
            "maximum": limit,
            "description": UploadRequest.model_fields["size"].description,
        }
        assert body["schema"]["required"] == ["filename", "size"]
    assert not {"ge", "gt", "le", "lt"} & set(keys(document))  # bounds in JSON Schema's words


def keys(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from keys(value)
    elif isinstance(node, list):
        for value in node:
            yield from keys(value)


def _accepted(name: str) -> bool:
    try:
        UploadRequest(filename=name)
    except ValidationError:
        return False
    return True


# Lone surrogates are left out: the pattern cannot name them (they are dropped, see the module).
NAMES = st.text(st.characters(exclude_categories=["Cs"]), max_size=12) | st.sampled_from(
    ["", " ", ".", "..", "...", "dir/", "a/..", "\u202e", "\x00\x01", "a\\ .", "x/\u200e.", "é"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(NAMES, min_size=1, max_size=3).map("/".join))
def test_the_file_name_pattern_says_of_the_raw_name_what_cleaning_decides(name):
    assert bool(re.search(FILENAME_PATTERN, name)) == _accepted(name)


@pytest.mark.parametrize(
    ("body", "status", "expect"),
    [
        # What json.loads reads and pydantic's parser does not: still read.
        (b'{"filename": "lone\\udc80.txt"}', 201, "lone.txt"),
        (b'\xef\xbb\xbf{"filename": "bom.txt"}', 201, "bom.txt"),
        (b'{"filename": "a.txt", "x": ' + b"[" * 300 + b"]" * 300 + b"}", 201, "a.txt"),
        (b'{"filename": "a.txt", "size": 1e3}', 201, "a.txt"),
        # A blank content type is guessed, however long.
        (b'{"filename": "a.txt", "content_type": "' + b" " * 300 + b'"}', 201, "a.txt"),
        (b'{"filename": "a", "content_type": "a/' + b"b" * 300 + b'"}', 400, "'content_type'"),
        (b'{"filename": "a", "size": -1e30}', 400, "'size' must not be negative."),
        (b'{"filename": "a", "size": NaN}', 400, "'size' must be an integer."),
        (b'{"filename": null, "size": 1}', 400, "'filename' is required."),
    ],
)
def test_bodies_read_as_json_loads_reads_them(client, body, status, expect):
    response = client.post("/uploads", data=body, headers=AUTH, content_type="application/json")
    assert response.status_code == status, response.get_json()
    answer = response.get_json()
    assert expect in (answer["filename"] if status == 201 else answer["detail"])


@pytest.mark.parametrize(
    ("parts", "detail", "param"),
    [
        ([{"number": 0, "etag": 5}], "'etag' must be a string.", "etag"),  # types before values
        ([{"number": 0}], "'etag' is required.", "etag"),
        ([{"number": 1, "etag": "x"}], "Each part needs a 'number' (1 or more)", "parts"),
        ([{"number": True, "etag": "0" * 32}], "'number' must be an integer.", "number"),
        ([7], "'parts' must be a list of objects.", "parts"),
        ({"number": 1}, "'parts' must be a list.", "parts"),
    ],
)
def test_completion_bodies_name_the_first_fault(client, parts, detail, param):
    created = client.post("/uploads", json={"filename": "a.txt"}, headers=AUTH).get_json()
    response = client.post(
        f"/uploads/{created['upload_id']}/complete", json={"parts": parts}, headers=AUTH
    )
    assert response.status_code == 400
    assert response.get_json()["detail"].startswith(detail)
    assert response.get_json()["invalid_params"] == [param]
