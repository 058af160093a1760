"""The store of the configured provider (see ``app.settings.storage``)."""

from __future__ import annotations

from ..settings.service import Settings
from ..settings.storage import RackspaceAuth
from .interface import ObjectStore
from .swift import SwiftStore


def open_store(settings: Settings) -> ObjectStore:
    auth = settings.storage
    timeout = settings.storage_timeout
    if isinstance(auth, RackspaceAuth) and auth.backend == "pyrax":
        # Imported only when chosen: pyrax is an optional extra, in a venv of its own.
        from .pyrax_backend import PyraxStore

        return PyraxStore(auth, timeout=timeout)
    return SwiftStore(auth, timeout=timeout)
