"""Segmented (SLO) uploads against a real Swift whose max_file_size forces segmentation."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import requests
from flask.testing import FlaskClient

from app import create_app
from app.cli.main import main as cli_main
from app.uploads import gc as gc_module
from app.web.runtime import Runtime
from tests.support.problems import assert_problem
from tests.support.servers import BIN, ROOT, StorageServer

MIB = 1024 * 1024
OWNER = "owner-token-0123456789abcdef"
OTHER = "other-token-0123456789abcdef"
AS_OWNER = {"Authorization": f"Bearer {OWNER}"}
AS_OTHER = {"Authorization": f"Bearer {OTHER}"}


@pytest.fixture(scope="module")
def small_swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StorageServer]:
    with StorageServer(tmp_path_factory.mktemp("small-swift"), max_file_size=10 * MIB) as server:
        yield server


@pytest.fixture(scope="module")
def small_env(small_swift: StorageServer) -> dict[str, str]:
    return small_swift.env | {"API_TOKENS": f"{OWNER},{OTHER}", "PART_URL_BATCH": "2"}


@pytest.fixture(scope="module")
def client(small_env: dict[str, str]) -> FlaskClient:
    return create_app(small_env).test_client()


@pytest.fixture(scope="module")
def data() -> bytes:
    return os.urandom(25 * MIB)


def start(client: FlaskClient, size: int, name: str = "big file é.bin") -> dict:
    response = client.post("/uploads", json={"filename": name, "size": size}, headers=AS_OWNER)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def all_parts(client: FlaskClient, answer: dict) -> list[dict]:
    parts = list(answer["parts"])
    while len(parts) < answer["part_count"]:
        more = client.get(
            f"/uploads/{answer['upload_id']}/parts?from={len(parts) + 1}", headers=AS_OWNER
        )
        assert more.status_code == 200
        parts += more.get_json()["parts"]
    return parts


def put_part(part: dict, data: bytes, **headers: str) -> requests.Response:
    chunk = data[part["offset"] : part["offset"] + part["length"]]
    return requests.put(part["upload_url"], data=chunk, headers=headers, timeout=60)


def test_a_file_over_max_file_size_gets_a_segmented_plan(client, data):
    answer = start(client, len(data))
    assert answer["segmented"] is True
    assert "upload_url" not in answer
    assert (answer["part_size"], answer["part_count"]) == (10 * MIB, 3)
    assert [(p["number"], p["offset"], p["length"]) for p in answer["parts"]] == [
        (1, 0, 10 * MIB),
        (2, 10 * MIB, 10 * MIB),
    ]
    third = client.get(f"/uploads/{answer['upload_id']}/parts?from=3", headers=AS_OWNER).get_json()[
        "parts"
    ]
    assert [(p["number"], p["offset"], p["length"]) for p in third] == [(3, 20 * MIB, 5 * MIB)]
    beyond = client.get(f"/uploads/{answer['upload_id']}/parts?from=4", headers=AS_OWNER)
    assert beyond.status_code == 200 and beyond.get_json()["parts"] == []
    for bad in ("0", "x", "-1"):
        response = client.get(f"/uploads/{answer['upload_id']}/parts?from={bad}", headers=AS_OWNER)
        assert response.status_code == 400
        assert response.get_json()["invalid_params"] == ["from"]


def test_only_ascii_digits_are_a_part_number(client, data):
    answer = start(client, len(data))
    # Arabic-Indic one, superscript two, a sign, a space: str.isdigit() or int() accept some.
    for bad in ("\u0661", "\u00b2", "+1", " 1", "1 ", "\uff11"):
        response = client.get(
            f"/uploads/{answer['upload_id']}/parts", query_string={"from": bad}, headers=AS_OWNER
        )
        assert assert_problem(response, 400, "'from'")["invalid_params"] == ["from"], bad


def test_parts_assemble_into_one_object_identical_to_the_file(client, data):
    answer = start(client, len(data))
    for part in all_parts(client, answer):
        md5 = hashlib.md5(data[part["offset"] : part["offset"] + part["length"]]).hexdigest()  # noqa: S324
        assert put_part(part, data, ETag=md5).status_code == 201
    done = client.post(f"/uploads/{answer['upload_id']}/complete", headers=AS_OWNER)
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert (body["object_name"], body["size"]) == (answer["object_name"], len(data))
    assert body["etag"]
    download = requests.get(body["download_url"], timeout=60)
    assert download.status_code == 200
    assert hashlib.sha256(download.content).digest() == hashlib.sha256(data).digest()
    assert "filename*=UTF-8''big%20file%20%C3%A9.bin" in download.headers["Content-Disposition"]


def test_completion_with_a_missing_part_is_409_naming_it(client, data):
    answer = start(client, len(data))
    parts = all_parts(client, answer)
    for part in (parts[0], parts[2]):
        assert put_part(part, data).status_code == 201
    response = client.post(f"/uploads/{answer['upload_id']}/complete", headers=AS_OWNER)
    assert_problem(response, 409)
    assert response.get_json()["missing_parts"] == [2]


def test_a_part_with_a_wrong_etag_is_refused_by_storage(client, data):
    part = start(client, len(data))["parts"][0]
    assert put_part(part, data, ETag="0" * 32).status_code == 422


def test_a_pinned_etag_that_does_not_match_is_409(client, data):
    answer = start(client, len(data))
    for part in all_parts(client, answer):
        assert put_part(part, data).status_code == 201
    pinned = {"parts": [{"number": 3, "etag": "0" * 32}]}
    response = client.post(
        f"/uploads/{answer['upload_id']}/complete", json=pinned, headers=AS_OWNER
    )
    assert response.status_code == 409
    assert response.get_json()["missing_parts"] == [3]
    bad = client.post(
        f"/uploads/{answer['upload_id']}/complete",
        json={"parts": [{"number": 9}]},
        headers=AS_OWNER,
    )
    assert bad.status_code == 400


def test_status_lists_stored_parts_so_a_client_resumes_with_only_the_rest(client, data):
    answer = start(client, len(data))
    parts = all_parts(client, answer)
    assert put_part(parts[0], data).status_code == 201
    assert put_part(parts[2], data[:-1]).status_code == 201  # cut short: not a stored part
    status = client.get(f"/uploads/{answer['upload_id']}", headers=AS_OWNER).get_json()
    assert status == {
        "upload_id": answer["upload_id"],
        "object_name": answer["object_name"],
        "part_count": 3,
        "stored_parts": [1],
        "missing_parts": [2, 3],
        "completed": False,
        "parts": [{"number": 1, "etag": hashlib.md5(data[: 10 * MIB]).hexdigest(),  # noqa: S324
                   "size": 10 * MIB}],
    }  # fmt: skip
    for number in status["missing_parts"]:
        assert put_part(parts[number - 1], data).status_code == 201
    done = client.post(f"/uploads/{answer['upload_id']}/complete", headers=AS_OWNER)
    assert done.status_code == 200
    assert requests.get(done.get_json()["download_url"], timeout=60).content == data


def test_abort_leaves_no_segments(client, data, small_env):
    answer = start(client, len(data))
    for part in all_parts(client, answer)[:2]:
        put_part(part, data)
    assert client.delete(f"/uploads/{answer['upload_id']}", headers=AS_OWNER).status_code == 204
    store = Runtime.of(client.application).storage.store
    left = store.list_objects("uploads_segments", prefix=answer["object_name"] + "/")
    assert [entry["name"].rsplit("/", 1)[1] for entry in left] == ["aborted"]  # the marker only
    upload = f"/uploads/{answer['upload_id']}"
    for method, path in [
        ("get", upload),
        ("get", upload + "/parts"),
        ("post", upload + "/complete"),
        ("delete", upload),
    ]:
        gone = getattr(client, method)(path, headers=AS_OWNER)
        assert gone.status_code == 404, (method, path)
        assert gone.get_json()["detail"] == "This upload was aborted."


def test_only_the_creator_may_see_complete_or_abort(client, data):
    answer = start(client, len(data))
    upload = f"/uploads/{answer['upload_id']}"
    for method, path in [
        ("get", upload),
        ("get", upload + "/parts?from=1"),
        ("post", upload + "/complete"),
        ("delete", upload),
    ]:
        response = getattr(client, method)(path, headers=AS_OTHER)
        assert response.status_code == 403, (method, path)
        assert_problem(response, 403)


def test_a_forged_or_foreign_upload_id_is_404(client, data):
    answer = start(client, len(data))
    forged = answer["upload_id"][:-4] + (
        "AAAA" if not answer["upload_id"].endswith("AAAA") else "BBBB"
    )
    for upload_id in (forged, "nonsense"):
        response = client.get(f"/uploads/{upload_id}", headers=AS_OWNER)
        assert_problem(response, 404)


def test_single_put_uploads_complete_too(client):
    answer = start(client, 5, "small.txt")
    assert answer["segmented"] is False and answer["upload_id"]
    complete = f"/uploads/{answer['upload_id']}/complete"
    early = client.post(complete, headers=AS_OWNER)
    assert early.status_code == 409 and early.get_json()["missing_parts"] == [1]
    assert (
        requests.put(
            answer["upload_url"], data=b"12345", headers=answer["upload_headers"], timeout=10
        ).status_code
        == 201
    )
    done = client.post(complete, headers=AS_OWNER).get_json()
    assert done["size"] == 5
    assert done["etag"] == hashlib.md5(b"12345").hexdigest()  # noqa: S324
    assert requests.get(done["download_url"], timeout=10).content == b"12345"


def test_single_put_of_another_size_than_declared_is_409(client):
    answer = start(client, 5, "small.txt")
    requests.put(answer["upload_url"], data=b"123", headers=answer["upload_headers"], timeout=10)
    response = client.post(f"/uploads/{answer['upload_id']}/complete", headers=AS_OWNER)
    assert response.status_code == 409
    assert "3 bytes, 5 were declared" in response.get_json()["detail"]


def test_the_threshold_segments_files_the_store_would_take_whole(env):
    client = create_app(env | {"SEGMENT_THRESHOLD": "2M", "SEGMENT_SIZE": "1M"}).test_client()
    answer = client.post(
        "/uploads",
        json={"filename": "a.bin", "size": 3 * MIB + 1},
        headers={"Authorization": f"Bearer {env['API_TOKENS']}"},
    ).get_json()
    assert (answer["segmented"], answer["part_size"], answer["part_count"]) == (True, MIB, 4)
    exactly = client.post(
        "/uploads",
        json={"filename": "a.bin", "size": 2 * MIB},
        headers={"Authorization": f"Bearer {env['API_TOKENS']}"},
    ).get_json()
    assert exactly["segmented"] is False


def test_gc_removes_only_stale_uncompleted_uploads(client, data, small_env, monkeypatch, capsys):
    stale, completed = start(client, len(data)), start(client, len(data))
    put_part(stale["parts"][0], data)
    for part in all_parts(client, completed):
        put_part(part, data)
    assert (
        client.post(f"/uploads/{completed['upload_id']}/complete", headers=AS_OWNER).status_code
        == 200
    )
    store = Runtime.of(client.application).storage.store

    def listed(answer: dict) -> list[dict]:
        return store.list_objects("uploads_segments", prefix=answer["object_name"] + "/")

    def segments(answer: dict) -> int:
        return len(listed(answer))

    # A completed single PUT whose object the site has deleted since: only its marker is left.
    gone = client.post(
        "/uploads", json={"filename": "gone.txt", "size": 4}, headers=AS_OWNER
    ).get_json()
    requests.put(gone["upload_url"], data=b"gone", headers=gone["upload_headers"], timeout=10)
    assert (
        client.post(f"/uploads/{gone['upload_id']}/complete", headers=AS_OWNER).status_code == 200
    )
    assert store.delete_object("uploads", gone["object_name"])
    assert [e["name"].rsplit("/", 1)[1] for e in listed(gone)] == ["000001", "completed"]
    assert [e["name"].rsplit("/", 1)[1] for e in listed(completed)][-1] == "completed"

    # Ages as storage records them: the stale part must be older than --older-than (3 s) when
    # gc runs, the fresh one (stored after that) younger.
    deadline = time.monotonic() + 60
    while time.time() - max(gc_module.last_modified(e) for e in listed(stale) + listed(gone)) < 4:
        assert time.monotonic() < deadline, "the stale part never aged"
        time.sleep(0.1)
    fresh = start(client, len(data))
    put_part(fresh["parts"][0], data)

    # The installed command, as cron runs it; --dry-run deletes nothing.
    dry = subprocess.run(
        [str(BIN / "upload-signer"), "gc", "--older-than", "3s", "--dry-run"],
        cwd=ROOT, env=os.environ | small_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert "would remove" in dry.stdout
    assert segments(stale) == 1
    # The same command in this process, its clock 1 s after storage stored the fresh part: the
    # stale part (4 s old or more by then) is past --older-than and the fresh one is not, however
    # long the steps since took.
    fresh_stored = max(gc_module.last_modified(e) for e in listed(fresh))
    monkeypatch.setattr(gc_module, "time", SimpleNamespace(time=lambda: fresh_stored + 1))
    for name, value in small_env.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    assert cli_main(["gc", "--older-than", "3s"]) == 0
    assert capsys.readouterr().out.startswith("removed ")
    # The completed upload keeps its 3 parts and its marker; the deleted one's marker is gone.
    assert (segments(stale), segments(completed), segments(fresh), segments(gone)) == (0, 4, 1, 0)
    download = requests.get(
        client.post(f"/uploads/{completed['upload_id']}/complete", headers=AS_OWNER).get_json()[
            "download_url"
        ],
        timeout=60,
    )
    assert len(download.content) == len(data)
