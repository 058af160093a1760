"""An in-process stand-in for Swift's memcache middleware.

tempauth and the proxy need ``env['swift.cache']``. The embedded store runs exactly one proxy
process, so a dictionary with expiry serves, and ``make run`` needs no memcached package.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class MemoryCache:
    """The subset of ``swift.common.memcached.MemcacheRing`` that the proxy pipeline calls."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def _live(self, key: str) -> Any:
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if expires and expires < time.monotonic():
            del self._items[key]
            return None
        return value

    @staticmethod
    def _expiry(ttl: float) -> float:
        return time.monotonic() + ttl if ttl else 0.0

    def get(self, key: str, raise_on_error: bool = False) -> Any:
        with self._lock:
            return self._live(key)

    def set(self, key: str, value: Any, serialize: bool = True, time: float = 0, **_: Any) -> None:
        with self._lock:
            self._items[key] = (self._expiry(time), value)

    def incr(self, key: str, delta: int = 1, time: float = 0) -> int:
        with self._lock:
            value = int(self._live(key) or 0) + delta
            self._items[key] = (self._expiry(time), value)
            return value

    def decr(self, key: str, delta: int = 1, time: float = 0) -> int:
        return self.incr(key, -delta, time)

    def delete(self, key: str, server_key: str | None = None) -> None:
        with self._lock:
            self._items.pop(key, None)

    def get_multi(self, keys: list[str], server_key: str) -> list[Any]:
        with self._lock:
            return [self._live(key) for key in keys]

    def set_multi(
        self, mapping: dict[str, Any], server_key: str, time: float = 0, **_: Any
    ) -> None:
        for key, value in mapping.items():
            self.set(key, value, time=time)


def filter_factory(global_conf: dict, **local_conf: str) -> Callable:
    cache = MemoryCache()

    def cache_filter(app: Callable) -> Callable:
        def middleware(env: dict, start_response: Callable) -> Any:
            env["swift.cache"] = cache
            return app(env, start_response)

        return middleware

    return cache_filter
