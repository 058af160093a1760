"""Pure logic: how files are cut into parts; completion webhooks against a real local receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator

import pytest
import requests

from app import create_app
from app.uploads.plans import MIB, PlanError, plan_parts
from app.uploads.webhooks import SIGNATURE_HEADER, WebhookSender
from app.web.runtime import Runtime
from tests.support.webhooks import Recording, receiving

GIB = 1024 * MIB


@pytest.mark.parametrize(
    ("size", "wanted", "max_object", "part_size", "count"),
    [
        (25 * MIB, 16 * MIB, 10 * MIB, 10 * MIB, 3),  # capped at the store's object limit
        (100 * MIB, 16 * MIB, 5 * GIB, 16 * MIB, 7),
        (64 * MIB, 16 * MIB, 5 * GIB, 16 * MIB, 4),  # exact multiple: no empty last part
        (100 * GIB, 16 * MIB, 5 * GIB, 103 * MIB, 995),  # grown (whole MiB) to fit 1000 parts
        (3 * MIB + 1, MIB, 5 * GIB, MIB, 4),
        (5 * MIB, 100, 5 * GIB, MIB, 5),  # never under 1 MiB
    ],
)
def test_parts_fit_the_limits(size, wanted, max_object, part_size, count):
    plan = plan_parts(size, wanted, max_object)
    assert (plan.part_size, plan.part_count) == (part_size, count)
    assert plan.part_count <= 1000
    lengths = [plan.part(n)[1] for n in range(1, plan.part_count + 1)]
    assert sum(lengths) == size
    assert all(length >= MIB for length in lengths[:-1])
    assert plan.part(plan.part_count)[0] + lengths[-1] == size


def test_a_file_too_large_for_1000_parts_is_refused():
    with pytest.raises(PlanError):
        plan_parts(1001 * 10 * MIB, 16 * MIB, 10 * MIB)


def test_part_numbers_outside_the_plan_are_errors():
    plan = plan_parts(3 * MIB, MIB, GIB)
    for number in (0, 4):
        with pytest.raises(IndexError):
            plan.part(number)


@pytest.fixture
def receiver() -> Iterator[Recording]:
    """Fails the first request with 500, accepts the rest."""
    with receiving(204, first=(500,)) as server:
        yield server


def test_webhook_is_signed_retried_and_never_blocks(receiver):
    sender = WebhookSender(receiver.url, "s" * 32, backoff=(0.1,))
    event = {"type": "upload.completed", "object_name": "o", "filename": "é.txt", "size": 3}
    sender.send(event)  # returns at once; a thread delivers
    assert sender.join(10)
    assert len(receiver.received) == 2  # one failure, one retry
    headers, body = receiver.received[-1]
    assert json.loads(body) == event
    fields = dict(part.split("=", 1) for part in headers[SIGNATURE_HEADER].split(","))
    expected = hmac.new(b"s" * 32, f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(fields["v1"], expected)


def test_each_completion_posts_an_event(receiver, env):
    app = create_app(
        env
        | {
            "UPLOAD_WEBHOOK_URL": receiver.url,
            "WEBHOOK_SECRET": "w" * 32,
        }
    )
    client, auth = app.test_client(), {"Authorization": f"Bearer {env['API_TOKENS']}"}
    answer = client.post(
        "/uploads", json={"filename": "hook.txt", "size": 4}, headers=auth
    ).get_json()
    requests.put(answer["upload_url"], data=b"hook", headers=answer["upload_headers"], timeout=10)
    assert client.post(f"/uploads/{answer['upload_id']}/complete", headers=auth).status_code == 200
    assert Runtime.of(app).webhooks.join(10)
    event = json.loads(receiver.bodies[-1])
    assert event.pop("completed_at")
    assert uuid.UUID(event.pop("id")).version == 4
    assert event == {
        "type": "upload.completed",
        "upload_id": answer["upload_id"],
        "object_name": answer["object_name"],
        "size": 4,
        "etag": hashlib.md5(b"hook").hexdigest(),  # noqa: S324
        "content_type": "text/plain",
        "filename": "hook.txt",
        "subject": event["subject"],
        "container": "uploads",
    }
    assert event["subject"].startswith("token:") and env["API_TOKENS"] not in event["subject"]


def test_webhook_gives_up_after_its_retries():
    sender = WebhookSender("http://127.0.0.1:9/unreachable", "s" * 32, timeout=0.5, backoff=(0, 0))
    assert sender.deliver({"object_name": "o"}) is False
