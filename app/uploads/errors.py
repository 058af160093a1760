"""Why the service refuses an upload: raised by the upload rules, answered by the web layer."""

from __future__ import annotations

from typing import Any


class UploadRefused(Exception):
    """A request the upload rules refuse: its HTTP status, a detail for the client, and extra
    problem-details members (``invalid_params``, ``max_upload_size``, ``missing_parts``…)."""

    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.extra = extra
