"""Webhook delivery against real local receivers: redirects are failures, one event per upload."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from flask import Flask

from app import create_app
from app.uploads.layout import completion_marker
from app.uploads.webhooks import WebhookSender
from app.web.runtime import Runtime
from tests.support.servers import ApiServer
from tests.support.webhooks import Recording, receiving

SECRET = "w" * 32


@pytest.mark.parametrize("status", [307, 302, 308])
def test_a_redirect_is_a_failed_attempt_and_never_followed(status):
    with receiving(204) as elsewhere, receiving(status, elsewhere.url) as receiver:
        sender = WebhookSender(receiver.url, SECRET, backoff=(0.01,))
        assert sender.deliver({"id": "e", "object_name": "o"}) is False
        assert len(receiver.bodies) == 2  # the first attempt and its retry, both to the receiver
        assert elsewhere.bodies == []


@pytest.fixture
def hooked(env: dict[str, str]) -> Iterator[tuple[Flask, Recording]]:
    with receiving(204) as receiver:
        app = create_app(env | {"UPLOAD_WEBHOOK_URL": receiver.url, "WEBHOOK_SECRET": SECRET})
        yield app, receiver


def uploaded(app: Flask, auth: dict[str, str], data: bytes = b"once") -> dict:
    answer = app.test_client().post(
        "/uploads", json={"filename": "once.txt", "size": len(data)}, headers=auth
    )
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    put = requests.put(body["upload_url"], data=data, headers=body["upload_headers"], timeout=10)
    assert put.status_code == 201
    return body


def events(app: Flask, receiver: Recording) -> list[dict]:
    assert Runtime.of(app).webhooks.join(10)
    return [json.loads(body) for body in receiver.bodies]


def test_thirty_completions_of_one_upload_send_one_event(hooked, auth):
    app, receiver = hooked
    upload = uploaded(app, auth)
    client = app.test_client()
    answers = [
        client.post(f"/uploads/{upload['upload_id']}/complete", headers=auth) for _ in range(30)
    ]
    assert {answer.status_code for answer in answers} == {200}
    bodies = [answer.get_json() for answer in answers]
    first = bodies[0]
    for body in bodies[1:]:  # the same answer each time, with its own download URL
        assert set(body) == set(first)
        assert {k: v for k, v in body.items() if not k.startswith("download")} == {
            k: v for k, v in first.items() if not k.startswith("download")
        }
    sent = events(app, receiver)
    assert len(sent) == 1
    assert sent[0]["upload_id"] == upload["upload_id"]
    assert uuid.UUID(sent[0]["id"]).version == 4


def at_once(url: str, headers: dict[str, str], count: int) -> list[int]:
    """``count`` POSTs to ``url`` released together, each on its own connection."""
    start = threading.Barrier(count)

    def post(_: int) -> int:
        with requests.Session() as own:
            start.wait(10)
            return own.post(url, headers=headers, timeout=10).status_code

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(post, range(count)))


def test_concurrent_completions_through_gunicorn_send_one_event(env, auth):
    """Workers of one gunicorn share nothing but storage: the marker decides which is first."""
    with receiving(204) as receiver:
        hooked_env = env | {"UPLOAD_WEBHOOK_URL": receiver.url, "WEBHOOK_SECRET": SECRET}
        with ApiServer(hooked_env, workers=3) as server, requests.Session() as http:
            for _ in range(3):
                created = http.post(
                    server.url + "/uploads", json={"filename": "once.txt", "size": 4},
                    headers=auth, timeout=10,
                ).json()  # fmt: skip
                put = http.put(created["upload_url"], data=b"once",
                               headers=created["upload_headers"], timeout=10)  # fmt: skip
                assert put.status_code == 201
                url = f"{server.url}/uploads/{created['upload_id']}/complete"
                assert at_once(url, auth, 6) == [200] * 6
            # Each worker posts from its own thread, a second event as soon as a first.
            deadline = time.monotonic() + 20
            while len(receiver.bodies) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
        # gunicorn has stopped (its workers with it): nothing more can arrive.
        sent = [json.loads(body) for body in receiver.bodies]
        assert sorted(e["upload_id"] for e in sent) == sorted({e["upload_id"] for e in sent})
        assert len(sent) == 3


def test_each_upload_gets_its_own_event_id_and_its_marker(hooked, auth):
    app, receiver = hooked
    first, second = uploaded(app, auth), uploaded(app, auth)
    client = app.test_client()
    for upload in (first, second):
        done = client.post(f"/uploads/{upload['upload_id']}/complete", headers=auth)
        assert done.status_code == 200, done.get_json()
    sent = events(app, receiver)
    assert [event["upload_id"] for event in sent] == [first["upload_id"], second["upload_id"]]
    assert len({event["id"] for event in sent}) == 2
    uploads = Runtime.of(app).uploads()
    marker = uploads.store.head_object(uploads.segments, completion_marker(first["object_name"]))
    assert marker is not None and "x-delete-at" in marker  # expires by itself
