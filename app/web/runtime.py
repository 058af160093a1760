"""What every request needs, built once by ``create_app``: one typed object, not string keys."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask, current_app

from ..auth.authenticator import Authenticator
from ..settings.security import PolicySettings
from ..settings.service import Settings
from ..storage.readiness import PreparedStorage, StorageReadiness
from ..uploads.service import UploadService
from ..uploads.webhooks import WebhookSender
from .problems import ApiError

EXTENSION = "upload_signer"
RETRY_AFTER = {"Retry-After": "5"}


@dataclass(eq=False)
class Runtime:
    settings: Settings
    authenticator: Authenticator
    storage: StorageReadiness
    webhooks: WebhookSender | None = None
    # True when gunicorn's JSON access line carries the audit record of each signed upload
    # (set per worker by gunicorn.conf.py): the app then writes no second line for it.
    access_log_audit: bool = False
    _uploads: UploadService | None = field(default=None, repr=False)

    @property
    def policy(self) -> PolicySettings:
        return self.settings.security.policy

    def uploads(self) -> UploadService:
        """The upload service on prepared storage; ApiError 503 while storage is not ready."""
        prepared = self.storage.prepared
        service = self._uploads
        if service is not None and service.prepared is prepared:
            return service  # the hot path: storage was prepared once and stays so
        if prepared is None:
            raise ApiError(503, f"Storage is not ready: {self.storage.problem}.", RETRY_AFTER)
        return self._build(prepared)

    def _build(self, prepared: PreparedStorage) -> UploadService:
        self._uploads = UploadService(self.storage.store, self.settings, prepared, self.policy)
        return self._uploads

    @staticmethod
    def of(app: Flask) -> Runtime:
        return app.extensions[EXTENSION]

    def install(self, app: Flask) -> None:
        app.extensions[EXTENSION] = self


def runtime() -> Runtime:
    """The runtime of the app handling the current request."""
    return current_app.extensions[EXTENSION]
