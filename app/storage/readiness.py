"""Per-process storage state: prepared once, retried in the background, checked for /readyz.

Signing needs only the key and the storage URL, both kept in memory once prepared, so a storage
outage after start-up never stops ``POST /uploads``; it only turns ``/readyz`` to 503 until the
store answers again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..settings.service import Settings
from .capabilities import StorageLimits
from .interface import ObjectStore, StorageError
from .preparation import prepare
from .signing import Signer

log = logging.getLogger(__name__)
RETRY_BACKOFF = (0.5, 1, 2, 4, 8, 15, 30)


@dataclass(frozen=True)
class PreparedStorage:
    """What signing needs, once storage is prepared: the signer and the cluster's limits."""

    signer: Signer
    limits: StorageLimits


class StorageReadiness:
    """Prepares storage once per process, retries in the background, answers /readyz."""

    def __init__(self, settings: Settings, store_factory: Callable[[], ObjectStore]) -> None:
        self.settings = settings
        self._store_factory = store_factory
        self._store: ObjectStore | None = None
        self._lock = threading.Lock()
        self._retrying = False
        self.prepared: PreparedStorage | None = None
        self.problem: str | None = "storage not prepared yet"
        self._checked_at = 0.0

    @property
    def signer(self) -> Signer | None:
        return self.prepared.signer if self.prepared is not None else None

    @property
    def store(self) -> ObjectStore:
        if self._store is None:
            self._store = self._store_factory()
        return self._store

    def try_prepare(self) -> bool:
        with self._lock:
            if self.prepared is not None:
                return True
            try:
                signer = prepare(self.store, self.settings)
                limits = StorageLimits.from_info(self.store.cluster_info())
            except StorageError as exc:
                self.problem = str(exc)
                return False
            self.prepared = PreparedStorage(signer, limits)
            self.problem = None
            self._checked_at = time.monotonic()
            log.info(
                "storage ready: container %r at %s", self.settings.container, signer.storage_url
            )
            return True

    def start(self) -> None:
        """Prepare now; if storage is not there yet, keep trying in the background."""
        if not self._try_prepare_logged():
            log.warning("storage not ready (%s); retrying in the background", self.problem)
            self._retry_in_background()

    def _retry_in_background(self) -> None:
        with self._lock:
            if self._retrying:
                return
            self._retrying = True
        threading.Thread(
            target=self._retry_until_ready, name="storage-prepare", daemon=True
        ).start()

    def _retry_until_ready(self) -> None:
        attempt = 0
        while not self._try_prepare_logged():
            time.sleep(RETRY_BACKOFF[min(attempt, len(RETRY_BACKOFF) - 1)])
            attempt += 1
        with self._lock:
            self._retrying = False

    def _try_prepare_logged(self) -> bool:
        """``try_prepare``, where an unexpected error is one more failed attempt: it must not end
        the only thread that retries (``_retrying`` would stay set and nothing would retry)."""
        try:
            return self.try_prepare()
        except Exception as exc:
            # The class only: a client library's message may carry a URL with a token.
            self.problem = f"unexpected {type(exc).__name__} while preparing storage"
            log.warning("storage preparation failed: %s", self.problem)
            return False

    def check(self) -> str | None:
        """None when ready, else what is missing. Probes storage at most every few seconds."""
        if self.prepared is None:
            self._retry_in_background()  # never block a probe on a store that is still down
            return self.problem
        if time.monotonic() - self._checked_at < self.settings.ready_cache_seconds:
            return self.problem
        with self._lock:
            # Threads of one worker may have queued here behind a slow probe: its answer is theirs.
            if time.monotonic() - self._checked_at < self.settings.ready_cache_seconds:
                return self.problem
            before = self.problem
            try:
                if self.store.container_metadata(self.settings.container) is None:
                    self.problem = f"container {self.settings.container!r} does not exist"
                    self.prepared = None  # prepare again: it recreates the container
                else:
                    self.problem = None
            except StorageError as exc:
                self.problem = str(exc)
            self._checked_at = time.monotonic()
            # One line per change of state, not one per probe of an outage.
            if self.problem and not before:
                log.warning("storage not ready: %s", self.problem)
            elif before and not self.problem:
                log.info("storage ready again")
        return self.problem
