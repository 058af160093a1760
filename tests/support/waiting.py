"""Waiting for something to happen rather than for time to pass.

A busy machine only makes these waits longer; the deadline is there so that a condition that
never comes fails the test instead of hanging it, and is far above any delay load adds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T], timeout: float = 30, message: str = "", interval: float = 0.05
) -> T:
    """Calls ``condition`` until it returns something true and returns that; fails with
    ``message`` once ``timeout`` seconds have passed without it."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, message or f"not so after {timeout} s"
        time.sleep(interval)
    return result
