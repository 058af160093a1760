"""``upload_id`` tickets: itsdangerous' signed format, written by a faster path."""

from __future__ import annotations

import hashlib
import json
from unittest import mock

import pytest
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode

from app.uploads.ids import SALT, UnknownUploadId, Upload, UploadIds

SECRET = "a-secret-of-thirty-two-characters!"
TICKETS = [
    Upload(
        "3f1c2d9e-0000-4000-8000-0123456789ab", "token:abc", "report.pdf", "application/pdf", 10
    ),
    Upload("alice/x", "auth0|42", 'qu"ote ré\\sumé 📄.txt', "text/plain", None),
    Upload("o", "s", "big.bin", "application/octet-stream", 5 * 2**40, 16 * 2**20),
]


def itsdangerous_serializer(secret: str = SECRET) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        secret, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256}
    )


class Uncompressed(URLSafeTimedSerializer):
    """itsdangerous' own writer without its zlib attempt, as ``issue`` writes."""

    def dump_payload(self, obj: object) -> bytes:
        return base64_encode(json.dumps(obj, separators=(",", ":")).encode())


@pytest.mark.parametrize("ticket", TICKETS)
def test_issue_writes_what_itsdangerous_writes_and_reads_back(ticket):
    signer = UploadIds(SECRET, max_age=3600)
    with mock.patch("time.time", return_value=1_800_000_000.7):
        issued = signer.issue(ticket)
        fields = list(ticket)
        reference = Uncompressed(SECRET, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})
        assert issued == reference.dumps(fields)  # the same bytes, byte for byte
        assert itsdangerous_serializer().loads(issued) == fields
        assert signer.read(issued) == ticket


def test_tickets_written_by_itsdangerous_itself_are_read_too():
    # Its default form compresses the payload (a leading "."): still a valid ticket.
    fields = list(TICKETS[1])
    issued = itsdangerous_serializer().dumps(fields)
    assert UploadIds(SECRET, max_age=3600).read(issued) == TICKETS[1]


def test_a_changed_secret_a_changed_byte_or_age_refuse_the_ticket():
    signer = UploadIds(SECRET, max_age=60)
    with mock.patch("time.time", return_value=1_800_000_000):
        issued = signer.issue(TICKETS[0])
    payload, timestamp, signature = issued.split(".")
    with mock.patch("time.time", return_value=1_800_000_030):
        assert signer.read(issued) == TICKETS[0]
        with pytest.raises(UnknownUploadId):
            UploadIds(SECRET + "x", max_age=60).read(issued)
        tampered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
        with pytest.raises(UnknownUploadId):
            signer.read(f"{tampered}.{timestamp}.{signature}")
    with mock.patch("time.time", return_value=1_800_000_061), pytest.raises(UnknownUploadId):
        signer.read(issued)
