"""Batch signing (``POST /uploads`` with ``files``) and batch completion (``POST
/uploads/complete``) against the real embedded Swift."""

from __future__ import annotations

import json
from uuid import UUID

import pytest
import requests

from app import create_app
from app.web.runtime import Runtime
from tests.support.constants import TOKEN
from tests.support.problems import assert_problem
from tests.support.webhooks import receiving

AUTH = {"Authorization": f"Bearer {TOKEN}"}
OTHER = "other-token-0123456789abcdef"


def sign_batch(client, files: list[dict], headers: dict[str, str] = AUTH):
    return client.post("/uploads", json={"files": files}, headers=headers)


def complete_batch(client, upload_ids: list[str], headers: dict[str, str] = AUTH):
    return client.post("/uploads/complete", json={"upload_ids": upload_ids}, headers=headers)


def test_a_batch_answers_each_file_in_order_as_a_single_call_would(client):
    files = [{"filename": f"photo {n}.png", "size": 100 + n} for n in range(5)]
    response = sign_batch(client, files)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    answers = response.get_json()["files"]
    assert [a["filename"] for a in answers] == [f["filename"] for f in files]
    names = [a["object_name"] for a in answers]
    assert len(set(names)) == 5 and all(str(UUID(n, version=4)) == n for n in names)
    single = client.post("/uploads", json=files[0], headers=AUTH).get_json()
    for answer in answers:
        assert set(answer) == set(single)
        assert answer["upload_form"]["fields"]["max_file_size"] == str(
            files[answers.index(answer)]["size"]
        )


def test_every_file_of_a_batch_uploads_and_completes_in_one_call(client):
    bodies = [f"file number {n}".encode() for n in range(4)]
    answers = sign_batch(client, [{"filename": f"{n}.txt", "size": len(b)}
                                  for n, b in enumerate(bodies)]).get_json()["files"]  # fmt: skip
    for answer, body in zip(answers, bodies, strict=True):
        assert requests.put(answer["upload_url"], data=body, timeout=30).status_code == 201
    response = complete_batch(client, [a["upload_id"] for a in answers])
    assert response.status_code == 200
    done = response.get_json()["files"]
    assert [d["upload_id"] for d in done] == [a["upload_id"] for a in answers]
    for item, body in zip(done, bodies, strict=True):
        assert item["size"] == len(body)
        assert requests.get(item["download_url"], timeout=30).content == body


def test_a_segmented_file_in_a_batch_gets_its_plan(env):
    client = create_app(env | {"SEGMENT_THRESHOLD": "1 MiB"}).test_client()
    files = [{"filename": "small.txt", "size": 10}, {"filename": "big.bin", "size": 3 * 1024**2}]
    answers = sign_batch(client, files).get_json()["files"]
    assert [a["segmented"] for a in answers] == [False, True]
    assert answers[1]["part_count"] >= 1 and "upload_form" not in answers[1]


@pytest.mark.parametrize(
    ("bad", "status", "param"),
    [
        ({"filename": "x", "size": -1}, 400, "files[2].size"),
        ({"filename": "", "size": 1}, 400, "files[2].filename"),
        ({"size": 1}, 400, "files[2].filename"),
        ({"filename": "x", "content_type": "text/html", "size": 1}, 415, "files[2].content_type"),
        ({"filename": "x"}, 400, "files[2].size"),
        ({"filename": "x", "size": 2 * 1024**2}, 413, "files[2].size"),
    ],
)
def test_one_bad_file_refuses_the_whole_batch_naming_it(env, bad, status, param):
    client = create_app(
        env | {"ALLOWED_CONTENT_TYPES": "image/*,text/plain", "MAX_UPLOAD_SIZE": "1 MiB"}
    ).test_client()
    good = {"filename": "a.png", "size": 1}
    response = sign_batch(client, [good, good, bad, good])
    body = assert_problem(response, status)
    assert body["invalid_params"] == [param]
    assert body["detail"].startswith("files[2]")
    assert "files" not in body


def test_an_empty_or_oversized_batch_is_refused(env):
    client = create_app(env | {"BATCH_MAX": "3"}).test_client()
    assert assert_problem(sign_batch(client, []), 400)["invalid_params"] == ["files"]
    four = [{"filename": f"{n}.txt"} for n in range(4)]
    assert_problem(sign_batch(client, four), 413, "at most 3 files")
    assert sign_batch(client, four[:3]).status_code == 201
    assert_problem(complete_batch(client, ["a", "b", "c", "d"]), 413, "at most 3 uploads")
    assert complete_batch(client, []).status_code == 400


def test_rate_limits_count_the_files_of_a_batch(env):
    client = create_app(env | {"RATE_LIMIT": "5/minute"}).test_client()
    three = [{"filename": f"{n}.txt"} for n in range(3)]
    assert sign_batch(client, three).status_code == 201
    assert sign_batch(client, three).status_code == 429  # 6 files > 5
    assert sign_batch(client, three[:2]).status_code == 201  # exactly 5


def test_each_id_of_a_batch_completion_is_checked_on_its_own(env):
    client = create_app(env | {"API_TOKENS": f"{TOKEN},{OTHER}"}).test_client()
    mine = [client.post("/uploads", json={"filename": f"{n}.txt", "size": 2}, headers=AUTH)
            .get_json() for n in range(2)]  # fmt: skip
    theirs = client.post(
        "/uploads", json={"filename": "t.txt"}, headers={"Authorization": f"Bearer {OTHER}"}
    ).get_json()
    assert requests.put(mine[0]["upload_url"], data=b"ok", timeout=30).status_code == 201
    ids = [mine[0]["upload_id"], mine[1]["upload_id"], theirs["upload_id"], "not-an-id"]
    done = complete_batch(client, ids).get_json()["files"]
    assert [d["upload_id"] for d in done] == ids
    assert done[0]["size"] == 2 and "problem" not in done[0]
    statuses = [d.get("problem", {}).get("status") for d in done]
    assert statuses == [None, 409, 403, 404]
    assert done[1]["problem"]["missing_parts"] == [1]
    assert "invalid_params" not in done[2]["problem"]  # absent, as in a problem+json answer


def test_a_batch_completion_sends_one_event_per_upload(env):
    with receiving(204) as receiver:
        app = create_app(env | {"UPLOAD_WEBHOOK_URL": receiver.url, "WEBHOOK_SECRET": "w" * 32})
        client = app.test_client()
        answers = sign_batch(client, [{"filename": f"{n}.txt", "size": 1}
                                      for n in range(12)]).get_json()["files"]  # fmt: skip
        for answer in answers:
            assert requests.put(answer["upload_url"], data=b"x", timeout=30).status_code == 201
        ids = [a["upload_id"] for a in answers]
        assert complete_batch(client, ids).status_code == 200
        assert complete_batch(client, ids).status_code == 200  # repeated: no new events
        assert Runtime.of(app).webhooks.join(30)
        events = [json.loads(body) for body in receiver.bodies]
        assert sorted(e["upload_id"] for e in events) == sorted(ids)
