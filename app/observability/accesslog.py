"""gunicorn access log as one JSON object per line (``logger_class`` in gunicorn.conf.py).

gunicorn's ``access_log_format`` pastes raw values into a template, so a quote or newline sent by
a client would break a JSON line; this logger serialises the fields instead. The query string
and request headers other than the ones below are left out: no endpoint takes a query, and
Authorization must never reach a log.
"""

from __future__ import annotations

import json
import traceback
from datetime import UTC, datetime
from typing import Any

from gunicorn.glogging import Logger

from .logs import AUDIT_ENVIRON_KEY


def access_record(resp: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
    status = resp.status
    if isinstance(status, str):
        status = status.split(None, 1)[0]
    response_headers = {name.lower(): value for name, value in resp.headers}
    record = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "type": "access",
        "remote_addr": environ.get("REMOTE_ADDR"),
        "forwarded_for": environ.get("HTTP_X_FORWARDED_FOR"),
        "method": environ.get("REQUEST_METHOD"),
        "path": environ.get("PATH_INFO"),
        "status": int(status),
        "bytes": getattr(resp, "sent", None),
        "duration_ms": round(request_time.total_seconds() * 1000, 3),
        "request_id": response_headers.get("x-request-id") or environ.get("HTTP_X_REQUEST_ID"),
        "user_agent": environ.get("HTTP_USER_AGENT"),
        "referer": environ.get("HTTP_REFERER"),
    }
    audit = environ.get(AUDIT_ENVIRON_KEY)
    if audit:
        record |= audit
    return record


class JsonAccessLogger(Logger):
    """Also carries the app's audit facts for the request (``AUDIT_ENVIRON_KEY``, set by
    ``POST /uploads`` when gunicorn.conf.py told the app this line exists)."""

    def writes_access_lines(self) -> bool:
        # gunicorn >= 25 computes this once per (re)load; older ones only have the setting.
        return bool(getattr(self, "access_log_enabled", self.cfg.accesslog))

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.writes_access_lines():
            return
        try:
            self.access_log.info(json.dumps(access_record(resp, environ, request_time)))
        except Exception:
            self.error(traceback.format_exc())
