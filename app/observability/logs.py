"""JSON log lines tied to a request id and the caller's subject, with secrets scrubbed.

``X-Request-ID`` from the client (or a proxy) is kept when it is a sane token, otherwise one is
generated; either way it is returned on every response and appears in every log line written
while handling the request.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
# A safety net under the rule that no code logs a secret: signatures, bearer credentials, keys.
_SECRETS = (
    (re.compile(r"(temp_url_sig=)[^&\s\"']+", re.IGNORECASE), r"\1[redacted]"),
    (re.compile(r"(Bearer\s+)[^\s\"',]+", re.IGNORECASE), r"\1[redacted]"),
    (
        re.compile(r"(X-Auth-(?:Token|Key)[\"']?\s*[:=]\s*[\"']?)[^\s\"',]+", re.IGNORECASE),
        r"\1[redacted]",
    ),
    (
        re.compile(r"(Temp-URL-Key(?:-2)?[\"']?\s*[:=]\s*[\"']?)[^\s\"',]+", re.IGNORECASE),
        r"\1[redacted]",
    ),
)


# Audit facts (who was given which object) ride on gunicorn's JSON access line, in this WSGI
# environ key, when gunicorn.conf.py turns ``Runtime.access_log_audit`` on in each worker, instead
# of a second line per request: half the log volume on the hot path, one record to search.
AUDIT_ENVIRON_KEY = "upload_signer.audit"
_SECRET_HINTS = ("temp_url_sig", "bearer", "x-auth-", "temp-url-key")


def scrub(text: str) -> str:
    lowered = text.lower()
    if not any(hint in lowered for hint in _SECRET_HINTS):
        return text  # the common case, kept cheap: every log line passes here
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}+00:00",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        if has_request_context():
            entry["request_id"] = g.get("request_id")
            if g.get("subject"):
                entry["subject"] = g.subject
            entry["method"] = request.method
            entry["path"] = request.path
        if record.exc_info:
            # The exception class only: messages and tracebacks may carry tokens or signed URLs.
            entry["error"] = record.exc_info[0].__name__ if record.exc_info[0] else None
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: int = logging.INFO) -> None:
    """One JSON handler on the root logger (idempotent: create_app may run many times)."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level)


def init_request_ids(app: Flask) -> None:
    @app.before_request
    def assign_request_id() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def return_request_id(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = g.get("request_id") or uuid.uuid4().hex
        return response
