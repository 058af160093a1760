"""Uploads: sign a new one, its part URLs, which parts are stored, completion, abort.

Every URL handed out writes under the upload's names in the segments container
(:mod:`.layout`); only ``complete`` publishes the object its download URL reads
(:mod:`.publishing`). No Flask here: the web layer parses requests and calls these.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..settings.security import PolicySettings
from ..settings.service import Settings
from ..storage.interface import ObjectStore
from ..storage.readiness import PreparedStorage
from ..storage.signing import iso8601
from . import layout, policy
from .errors import UploadRefused
from .ids import Upload, UploadIds, upload_id_secret
from .plans import PartPlan, PlanError, plan_parts
from .publishing import Completed, Publisher

T = TypeVar("T")
R = TypeVar("R")
# Completions of one batch run this many at a time: each waits on storage, not on the CPU.
BATCH_CONCURRENCY = 8


class UploadService:
    """Everything the service does with uploads once storage is prepared (built once then)."""

    def __init__(
        self,
        store: ObjectStore,
        settings: Settings,
        prepared: PreparedStorage,
        rules: PolicySettings,
    ) -> None:
        self.store = store
        self.settings = settings
        self.prepared = prepared
        self.signer = prepared.signer
        self.limits = prepared.limits
        self.rules = rules
        self.ids = UploadIds(
            settings.secret_key.get_secret_value()
            if settings.secret_key
            else upload_id_secret(prepared.signer.key),
            settings.upload_session_ttl,
        )
        # Headers every stored piece carries: parts of a segmented upload and its manifest too.
        self.manifest_headers = policy.segment_headers(rules)
        self.segments = settings.segments_container
        self._single_limit = min(settings.segment_threshold, prepared.limits.max_file_size)
        self.publisher = Publisher(store, settings, self.manifest_headers)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    # -- signing ------------------------------------------------------------------------------
    def create(
        self,
        subject: str,
        filename: str,
        content_type: str,
        size: int | None,
        ip_range: str | None,
    ) -> dict[str, Any]:
        """The answer of ``POST /uploads``: a fresh object, its upload URL(s) and download URL.

        The hot path of the service: pure CPU, no storage request.
        """
        signer, settings = self.signer, self.settings
        object_name = policy.object_name(self.rules, subject)
        now = int(time.time())
        upload_expires = now + settings.tempurl_ttl
        download_expires = now + settings.download_ttl
        upload = Upload(object_name, subject, filename, content_type, size)
        segmented = size is not None and size > self._single_limit
        answer: dict[str, Any] = {"upload_id": "", "object_name": object_name}
        if segmented:
            try:
                plan = plan_parts(size, settings.segment_size, self.limits.max_file_size,
                                  self.limits.max_manifest_segments)  # fmt: skip
            except PlanError as exc:
                raise UploadRefused(413, f"The file is too large for this store: {exc}.") from None
            upload = upload._replace(part_size=plan.part_size)
            answer |= {
                "upload_id": self.ids.issue(upload),
                "part_size": plan.part_size,
                "part_count": plan.part_count,
                "parts": self.part_urls(upload, 1, upload_expires, ip_range),
                # Parts carry no Content-Type (the manifest does), but do carry X-Delete-After.
                "upload_headers": self.manifest_headers,
            }
        else:
            staged = layout.segment_name(object_name, 1)
            answer |= {
                "upload_id": self.ids.issue(upload),
                "upload_url": signer.sign(
                    "PUT", staged, upload_expires, container=self.segments, ip_range=ip_range
                ),
                "upload_method": "PUT",
                "upload_headers": policy.upload_headers(self.rules, content_type),
            }
            # A form cannot be bound to an address: with UPLOAD_BIND_IP only the PUT is offered.
            if self.limits.formpost and ip_range is None:
                answer["upload_form"] = self.upload_form(object_name, size, upload_expires)
        answer |= {
            "download_url": signer.sign("GET", object_name, download_expires, filename=filename),
            "expires_at": iso8601(upload_expires),
            "download_expires_at": iso8601(download_expires),
            "filename": filename,
            "segmented": segmented,
        }
        return answer

    def part_urls(
        self, upload: Upload, first: int, expires: int, ip_range: str | None = None
    ) -> list[dict]:
        plan = _plan(upload)
        last = min(plan.part_count, first + self.settings.part_url_batch - 1)
        parts = []
        for number in range(first, last + 1):
            offset, length = plan.part(number)
            name = layout.segment_name(upload.object_name, number)
            url = self.signer.sign("PUT", name, expires, container=self.segments, ip_range=ip_range)
            parts.append({"number": number, "offset": offset, "length": length, "upload_url": url})
        return parts

    def upload_form(self, object_name: str, size: int | None, expires: int) -> dict[str, Any]:
        """The FormPOST of a single upload: storage refuses a file over its size (the declared
        one, else the largest the policy and the store accept) and a second file."""
        if size is None:
            size = self.rules.max_upload_size or self.limits.max_file_size
        prefix, file_name = layout.form_prefix(object_name)
        url, fields = self.signer.form(prefix, expires, size, 1, container=self.segments)
        if self.rules.expire_after is not None:
            fields["x_delete_after"] = str(self.rules.expire_after)
        return {"url": url, "fields": fields, "file_name": file_name}

    def download_url(self, object_name: str, filename: str) -> tuple[str, int]:
        """A fresh download URL and its expiry."""
        expires = int(time.time()) + self.settings.download_ttl
        return self.signer.sign("GET", object_name, expires, filename=filename), expires

    # -- what storage holds -------------------------------------------------------------------
    def stored_parts(self, upload: Upload) -> list[dict[str, Any]]:
        """The parts stored with the right length, by number: ``{number, etag, size}`` (a single
        upload's file is part 1), which a resuming client checks against its own."""
        expected = self.publisher.expected_sizes(upload)
        return [
            {"number": number, "etag": piece.etag, "size": piece.size}
            for number, piece in sorted(self.publisher.stored_pieces(upload).items())
            if expected[number] in (None, piece.size)
        ]

    # -- completion and abort -----------------------------------------------------------------
    def complete(self, upload: Upload, pinned: dict[int, str]) -> Completed:
        served = policy.served_content_type(upload.content_type)
        return self.publisher.complete(upload, pinned, served)

    def published(self, upload: Upload) -> bool:
        return self.publisher.published(upload) is not None

    def first_completion(self, upload: Upload) -> bool:
        return self.publisher.first_completion(upload)

    def completion_event(self, upload_id: str, upload: Upload, done: Completed) -> dict[str, Any]:
        """The ``upload.completed`` webhook event."""
        return {
            "id": str(uuid.uuid4()),  # receivers tell a retried delivery from another event
            "type": "upload.completed",
            "upload_id": upload_id,
            "object_name": done.object_name,
            "size": done.size,
            "etag": done.etag,
            "content_type": done.content_type,
            "filename": done.filename,
            "subject": upload.subject,
            "container": self.settings.container,
            "completed_at": iso8601(int(time.time())),
        }

    def side_by_side(self, work: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``work`` on each item, a few at a time, in this process's own threads (each with its
        storage connection, kept between batches); the results in the items' order."""
        items = list(items)
        if len(items) < 2:
            return [work(item) for item in items]
        with self._pool_lock:  # made on first use: in the worker process, after any fork
            if self._pool is None:
                self._pool = ThreadPoolExecutor(BATCH_CONCURRENCY, thread_name_prefix="batch")
        return list(self._pool.map(work, items))

    def abort(self, upload: Upload) -> int:
        return self.publisher.abort(upload)

    def aborted(self, upload: Upload) -> bool:
        return self.publisher.aborted(upload)


def _plan(upload: Upload) -> PartPlan:
    if upload.plan is None:
        raise ValueError("not a segmented upload")
    return upload.plan
