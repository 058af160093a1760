"""The app as production builds it, plus two endpoints that exist only in the benchmark.

- ``POST /bench/trivial``: an authenticated JSON endpoint that does nothing else: checks the
  token, parses the JSON body, answers a small JSON object. The floor of the web stack that
  ``POST /uploads`` (the same plus validation and two HMACs) is compared with.
- ``PUT /bench/proxy-upload/<name>``: the design the service avoids, a sync worker that receives
  the file and streams it on to Swift, held for the whole upload.

Run as ``gunicorn -c gunicorn.conf.py bench.wsgi:app``. Never part of the image or the app.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import requests
from flask import Blueprint, g, jsonify, request

from app import create_app
from app.web.authentication import require_auth
from app.web.problems import ApiError
from app.web.runtime import runtime

CHUNK = 64 * 1024
bench = Blueprint("bench", __name__, url_prefix="/bench")


@bench.post("/trivial")
@require_auth
def trivial() -> Any:
    body = request.get_json(silent=True) or {}
    return jsonify(subject=g.subject, fields=len(body))


def _body(stream: Any, length: int) -> Iterator[bytes]:
    remaining = length
    while remaining > 0:
        chunk = stream.read(min(CHUNK, remaining))
        if not chunk:
            raise ApiError(400, "The upload ended early.")
        remaining -= len(chunk)
        yield chunk


@bench.put("/proxy-upload/<name>")
@require_auth
def proxy_upload(name: str) -> Any:
    length = request.content_length
    if length is None:
        raise ApiError(411, "Send Content-Length.")
    signer = runtime().storage.signer
    if signer is None:
        raise ApiError(503, "Storage is not ready.")
    url = signer.sign("PUT", name, int(time.time()) + 3600)
    # The raw WSGI input: the app's 64 KiB request limit is for JSON, not for this endpoint.
    answer = requests.put(
        url,
        data=_body(request.environ["wsgi.input"], length),
        headers={"Content-Type": request.content_type or "application/octet-stream"},
        timeout=60,
    )
    return jsonify(status=answer.status_code), answer.status_code


app = create_app()
app.register_blueprint(bench)
