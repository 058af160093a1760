"""gunicorn's workers, answering what gunicorn refuses itself as problem details.

A request line over ``limit_request_line`` (414), headers over ``limit_request_fields`` or
``limit_request_field_size`` (431), or a request gunicorn cannot parse (400) never reaches the
app: gunicorn writes an HTML page with ``gunicorn.util.write_error``, which echoes part of the
request. gunicorn offers no hook for that answer, so this worker replaces that one function in
its own process (after fork, never in the master), keeping gunicorn's choice of status and its
access line. ``gunicorn.conf.py`` selects ``app.web.worker.ProblemThreadWorker`` (gthread); a
deployment on sync workers can select ``app.web.worker.ProblemSyncWorker``.
"""

from __future__ import annotations

import json
from http import HTTPStatus

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker
from gunicorn.workers.sync import SyncWorker

from .problems import PROBLEM_TYPE

# The detail never repeats the request: a request line or header may carry a token.
_DETAILS = {
    400: "The request could not be read as HTTP/1.1.",
    414: "The request line is too long.",
    431: "The request has too many headers, or one too large.",
}


def problem_bytes(status: int) -> bytes:
    """A whole HTTP/1.1 answer: ``status`` as RFC 9457 problem details, then close."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body = json.dumps(
        {
            "type": PROBLEM_TYPE,
            "title": title,
            "status": status,
            "detail": _DETAILS.get(status, f"{title}."),
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status} {title}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/problem+json\r\n"
        "Cache-Control: no-store\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def write_problem(sock, status_int: int, reason: str, mesg: str) -> None:
    """``gunicorn.util.write_error``'s signature; ``reason`` and ``mesg`` are dropped (above)."""
    util.write_nonblock(sock, problem_bytes(int(status_int)))


class ProblemErrors:
    """Mixed into a gunicorn worker: its own refusals are written as problem details."""

    def init_process(self) -> None:
        util.write_error = write_problem
        super().init_process()  # type: ignore[misc]


class ProblemSyncWorker(ProblemErrors, SyncWorker):
    pass


class ProblemThreadWorker(ProblemErrors, ThreadWorker):
    pass
