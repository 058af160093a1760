"""The one check of an error answer: RFC 9457 problem details, never an HTML page or a traceback."""

from __future__ import annotations

import json
from typing import Any

import requests
from werkzeug.http import parse_options_header
from werkzeug.test import TestResponse

PROBLEM_MEMBERS = {"type", "title", "status", "detail"}


def assert_problem(
    response: TestResponse | requests.Response, status: int, detail: str | None = None
) -> dict[str, Any]:
    """``status`` with an ``application/problem+json`` body carrying the RFC 9457 members.

    ``detail``, when given, must be part of the body's ``detail``. Works on a Flask test client's
    answer and on a ``requests`` answer from a real server; returns the parsed body.
    """
    text = response.get_data(as_text=True) if isinstance(response, TestResponse) else response.text
    assert response.status_code == status, text[:300]
    mimetype, _ = parse_options_header(response.headers.get("Content-Type", ""))
    assert mimetype == "application/problem+json", text[:300]
    body = json.loads(text)
    assert set(body) >= PROBLEM_MEMBERS, body
    assert body["status"] == status
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str)
    if detail is not None:
        assert detail in body["detail"], body["detail"]
    assert "Traceback" not in text
    assert "<html" not in text.lower() and "<!doctype" not in text.lower()
    return body
