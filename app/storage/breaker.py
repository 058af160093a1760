"""A circuit breaker around storage calls: a store known to be down fails fast.

Without it every request that needs storage waits for the full timeout while storage is down,
holding a worker thread each. After ``threshold`` consecutive failures that say "storage is not
there" (timeouts, refused or reset connections) calls fail at once for ``cooldown`` seconds;
then exactly one call is let through as a probe (half-open): its success closes the breaker, its
failure opens it for another cool-down. HTTP errors from a storage that answers do not count:
storage is there, the request was wrong.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from ..observability.metrics import record_breaker_opened
from .interface import StorageError

log = logging.getLogger(__name__)
# Matches the Retry-After of 5 s that every storage 503 carries (app/web/problems.py).
COOLDOWN_SECONDS = 5.0
THRESHOLD = 3


class StorageUnavailable(StorageError):
    """Refused without a storage request: storage failed recently and is cooling down."""

    def __init__(self, what: str, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"{what}: storage unavailable, next try in {math.ceil(retry_after)} s")


class CircuitBreaker:
    def __init__(
        self,
        threshold: int = THRESHOLD,
        cooldown: float = COOLDOWN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until: float | None = None  # None: closed
        self._probing = False

    @property
    def state(self) -> str:
        with self._lock:
            if self._open_until is None:
                return "closed"
            return "open" if self._clock() < self._open_until or self._probing else "half-open"

    def enter(self, what: str) -> None:
        """Raise StorageUnavailable unless a call may go to storage now."""
        with self._lock:
            if self._open_until is None:
                return
            now = self._clock()
            if now < self._open_until:
                raise StorageUnavailable(what, self._open_until - now)
            if self._probing:  # one probe at a time: the others must not wait on it
                raise StorageUnavailable(what, self.cooldown)
            self._probing = True

    def succeeded(self) -> None:
        with self._lock:
            if self._open_until is not None:
                log.info("storage answers again: calls go through")
            self._failures, self._open_until, self._probing = 0, None, False

    def abandoned(self) -> None:
        """The call ended in neither way (an unexpected error): let the next call probe."""
        with self._lock:
            self._probing = False

    def failed(self) -> None:
        with self._lock:
            self._failures += 1
            if not self._probing and self._failures < self.threshold:
                return
            if self._open_until is None:
                log.warning(
                    "storage failed %d times in a row: failing fast for %.0f s",
                    self._failures,
                    self.cooldown,
                )
            self._open_until = self._clock() + self.cooldown
            self._probing = False
            record_breaker_opened()
