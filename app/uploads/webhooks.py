"""Completion events POSTed to the embedding site's backend, signed, retried, never blocking.

Each POST carries ``X-Upload-Signer-Signature: t=<unix time>,v1=<hex>``, the HMAC-SHA256 of
``"<t>.<body>"`` under WEBHOOK_SECRET, so the receiver can check origin and freshness. Events are
queued in memory and sent by one thread per process: a slow or failing receiver never delays or
fails the user's request (an event still queued when the process exits is lost; the receiver can
reconcile with ``POST /uploads/<id>/complete``, which is idempotent). Only a 2xx is a delivery:
a redirect is never followed, so the signed event reaches WEBHOOK_URL or nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time

import requests

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Upload-Signer-Signature"
BACKOFF = (1, 2, 4, 8, 16)
QUEUE_SIZE = 10_000


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class WebhookSender:
    def __init__(self, url: str, secret: str, timeout: float = 5.0,
                 backoff: tuple[float, ...] = BACKOFF) -> None:  # fmt: skip
        self.url = url
        self._secret = secret
        self.timeout = timeout
        self.backoff = backoff
        self._queue: queue.Queue[dict] = queue.Queue(QUEUE_SIZE)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def send(self, event: dict) -> None:
        """Queue the event; returns at once."""
        with self._lock:
            # Started on first use, so each gunicorn worker gets its own after fork.
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
                self._thread.start()
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            log.error("webhook queue full: dropped the event for %s", event.get("object_name"))

    def _run(self) -> None:
        while True:
            self.deliver(self._queue.get())
            self._queue.task_done()

    def deliver(self, event: dict) -> bool:
        body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
        for attempt, pause in enumerate((*self.backoff, None), start=1):
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature(self._secret, int(time.time()), body),
            }
            try:
                # Never to another address than WEBHOOK_URL: a redirect is a failed attempt.
                status = requests.post(
                    self.url, data=body, headers=headers, timeout=self.timeout,
                    allow_redirects=False,
                )  # fmt: skip
                if 200 <= status.status_code < 300:  # requests' .ok takes a 3xx too
                    return True
                reason = f"answered {status.status_code}"
            except requests.RequestException as exc:
                reason = type(exc).__name__
            log.warning("webhook attempt %d for %s failed: %s", attempt,
                        event.get("object_name"), reason)  # fmt: skip
            if pause is not None:
                time.sleep(pause)
        log.error("webhook gave up on %s", event.get("object_name"))
        return False

    def join(self, timeout: float = 10.0) -> bool:
        """Wait until the queue is drained (tests, graceful shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self._queue.unfinished_tasks
